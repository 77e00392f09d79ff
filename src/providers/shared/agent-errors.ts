import { SandboxError, type SandboxErrorCode } from '../../errors.js';
import { AgentError } from '../../agent/errors.js';

/** The local agent's modules throw AgentError (code, message, hint); providers speak SandboxError. */
export function toSandboxError(e: unknown): unknown {
  return e instanceof AgentError ? new SandboxError(e.code as SandboxErrorCode, e.message, { hint: e.hint }) : e;
}
