/**
 * The project's error vocabulary. Providers translate vendor failures into these codes in one place;
 * tools turn them into `isError` results whose text says how to recover.
 */
export const SANDBOX_ERROR_CODES = [
  'INVALID_ARGUMENT', // the caller can fix the input
  'NOT_FOUND', // a path, process or sandbox that does not exist
  'ALREADY_EXISTS',
  'PERMISSION_DENIED', // outside the sandbox, read-only, or refused by policy
  'TIMEOUT',
  'LIMIT_EXCEEDED', // quota, size or count caps
  'UNAVAILABLE', // transient: retry may help
  'AUTH', // bad or missing credentials
  'SANDBOX_GONE', // the sandbox died or was reaped
  'UNSUPPORTED',
  'INTERNAL',
] as const;

export type SandboxErrorCode = (typeof SANDBOX_ERROR_CODES)[number];

export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  /** What the caller should do next; appended to the message shown to the model. */
  readonly hint?: string;

  constructor(code: SandboxErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'SandboxError';
    this.code = code;
    this.hint = options.hint;
  }

  /** Text for a tool result: what went wrong, then how to recover. */
  describe(): string {
    return this.hint ? `${this.message}. ${this.hint}` : this.message;
  }
}

export function isSandboxError(err: unknown): err is SandboxError {
  return err instanceof SandboxError;
}

/** Any thrown value as a SandboxError, keeping the original as `cause`. */
export function toSandboxError(err: unknown): SandboxError {
  if (err instanceof SandboxError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SandboxError('INTERNAL', message, { cause: err });
}

/**
 * The text a client gets for a failure. A SandboxError's message was written for it. Anything else is
 * unexpected, and Node's system errors name host paths, which are none of the session's business: it
 * gets the error code and the operation; the server log keeps the whole error.
 */
export function clientMessage(err: unknown): string {
  if (isSandboxError(err)) return err.describe();
  const sys = err as Partial<NodeJS.ErrnoException> | undefined;
  if (typeof sys?.code === 'string' && typeof sys.syscall === 'string') {
    return `the server hit an internal error (${sys.code} during ${sys.syscall}); the operator finds the details in the server log. Retry later, and report it if it persists`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** `text` with every occurrence of the given host paths (the state dir, ...) replaced by a placeholder. */
export function redactPaths(text: string, hostPaths: readonly string[]): string {
  return hostPaths.filter(Boolean).reduce((t, p) => t.split(p).join('<server path>'), text);
}
