import { SandboxError, type SandboxErrorCode } from '../../errors.js';
import { AgentError } from '../../agent/errors.js';

/**
 * The local agent's modules throw AgentError (code, message, hint); providers speak SandboxError. An
 * AgentError becomes the SandboxError it stands for; anything else is returned as it is.
 */
export function translateAgentError(error: unknown): unknown {
  return error instanceof AgentError
    ? new SandboxError(error.code as SandboxErrorCode, error.message, { hint: error.hint })
    : error;
}
