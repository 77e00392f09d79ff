import type { ServerResponse } from 'node:http';
import type { ZodError } from 'zod';
import {
  clientMessage,
  isSandboxError,
  redactPaths,
  SandboxError,
  toSandboxError,
  type SandboxErrorCode,
} from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * SandboxError codes as HTTP statuses. AUTH from a provider is the operator's vendor key failing, not
 * the caller's token (that refusal is a 401 made by the guards), hence 503 with the provider's hint.
 */
const STATUS: Record<SandboxErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  TIMEOUT: 504,
  LIMIT_EXCEEDED: 429,
  UNAVAILABLE: 503,
  AUTH: 503,
  SANDBOX_GONE: 410,
  UNSUPPORTED: 501,
  INTERNAL: 500,
};

/** An HTTP answer that is an error, whatever raised it; `headers` ride along (Allow, Retry-After). */
export class RestError extends SandboxError {
  constructor(
    readonly status: number,
    code: SandboxErrorCode,
    message: string,
    hint?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message, { hint });
  }
}

export function sendError(res: ServerResponse, status: number, err: SandboxError, headers: Record<string, string>) {
  const body = { error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } };
  if (res.headersSent) return void res.end();
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
    .end(JSON.stringify(body));
}

/**
 * Any failure as status and body. SandboxErrors were written for the caller; anything else is logged
 * in full and reaches the client as clientMessage() has it, with host paths redacted: never a stack.
 */
export function toHttpError(
  err: unknown,
  log: Logger,
  hostPaths: string[],
): { status: number; error: SandboxError; headers: Record<string, string> } {
  if (err instanceof RestError) return { status: err.status, error: err, headers: err.headers };
  if (!isSandboxError(err) || err.code === 'INTERNAL') log.error({ err }, 'REST request failed');
  const e = toSandboxError(err);
  const message = redactPaths(isSandboxError(err) ? err.message : clientMessage(err), hostPaths);
  const hint = e.hint && redactPaths(e.hint, hostPaths);
  const status = STATUS[e.code];
  return {
    status,
    error: new SandboxError(e.code, message, { hint }),
    headers: status === 503 || status === 429 ? { 'retry-after': '5' } : {},
  };
}

/** A zod failure as one INVALID_ARGUMENT naming each bad field. */
export function invalid(where: string, err: ZodError): RestError {
  const issues = err.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
  return new RestError(
    400,
    'INVALID_ARGUMENT',
    `${where} is not valid: ${issues.join('; ')}`,
    'fix the fields named; /api/openapi.json describes every request',
  );
}

/**
 * Handle errors were written for MCP clients; a REST caller gets a new id from POST /api/sandboxes.
 * Only the tool names change: the rest of the advice (the workspace to name, ...) holds for both.
 */
export function inRestTerms(err: unknown): unknown {
  if (!isSandboxError(err) || !err.hint) return err;
  const hint = err.hint
    .replace(/\bsandbox_create\b/g, 'POST /api/sandboxes (MCP: sandbox_create)')
    .replace(/pass its sandbox to later calls/g, 'use its id');
  return new SandboxError(err.code, err.message, { hint, cause: err });
}
