import {
  AuthenticationError,
  FileNotFoundError,
  InvalidArgumentError,
  NotEnoughSpaceError,
  NotFoundError,
  RateLimitError,
  SandboxNotFoundError,
  ServiceBusyError,
  TemplateError,
  TimeoutError,
  SandboxError as E2BError,
} from 'e2b';
import { SandboxError } from '../../errors.js';
import { isResponseTooLarge, responseTooLarge } from '../shared/response-cap.js';
import { isNetworkError } from '../shared/retry.js';

type Translation = (context: string, msg: string, err: Error) => SandboxError | undefined;

/** SandboxError's options for an E2B failure: the vendor error as cause, and what to do about it. */
function why(err: unknown, hint?: string): { cause: unknown; hint?: string } {
  return hint === undefined ? { cause: err } : { cause: err, hint };
}

/** E2B's typed errors, most specific first; an entry that answers undefined leaves the error to the checks after it. */
const BY_CLASS: [abstract new (...args: never[]) => Error, Translation][] = [
  [
    AuthenticationError,
    (context, msg, err) =>
      new SandboxError(
        'AUTH',
        `${context}: E2B rejected the credentials (${firstLine(msg)})`,
        why(err, 'check E2B_API_KEY (a key from https://e2b.dev/dashboard?tab=keys), then restart the server'),
      ),
  ],
  [
    RateLimitError,
    (context, msg, err) =>
      isQuota(msg)
        ? quota(context, msg, err)
        : new SandboxError(
            'UNAVAILABLE',
            `${context}: E2B is rate limiting requests (429)`,
            why(err, 'wait a few seconds and retry; lower the request rate if it persists'),
          ),
  ],
  [
    ServiceBusyError,
    (context, _msg, err) =>
      new SandboxError(
        'UNAVAILABLE',
        `${context}: E2B is temporarily unavailable (503)`,
        why(err, 'retry in a minute; see https://status.e2b.dev'),
      ),
  ],
  [
    SandboxNotFoundError,
    (context, _msg, err) =>
      new SandboxError(
        'SANDBOX_GONE',
        `${context}: the E2B sandbox is gone (killed or past its timeout)`,
        why(err, 'the next call starts a fresh sandbox; raise E2B_TIMEOUT if sandboxes expire too early'),
      ),
  ],
  [FileNotFoundError, (context, msg, err) => new SandboxError('NOT_FOUND', `${context}: ${firstLine(msg)}`, why(err))],
  [NotFoundError, (context, msg, err) => new SandboxError('NOT_FOUND', `${context}: ${firstLine(msg)}`, why(err))],
  [
    TemplateError,
    (context, msg, err) =>
      new SandboxError(
        'INVALID_ARGUMENT',
        `${context}: E2B template problem (${firstLine(msg)})`,
        why(err, 'check E2B_TEMPLATE names a template your team can use'),
      ),
  ],
  [
    InvalidArgumentError,
    (context, msg, err) => new SandboxError('INVALID_ARGUMENT', `${context}: ${firstLine(msg)}`, why(err)),
  ],
  [
    NotEnoughSpaceError,
    (context, _msg, err) =>
      new SandboxError(
        'LIMIT_EXCEEDED',
        `${context}: the E2B sandbox is out of disk space`,
        why(err, 'delete files you no longer need'),
      ),
  ],
  [TimeoutError, (context, msg, err) => vendorTimeout(context, msg, err)],
  [E2BError, (context, msg, err) => byStatus(context, msg, err)],
];

function vendorTimeout(context: string, msg: string, err: Error): SandboxError {
  // A file call on a dead sandbox surfaces as a TimeoutError that says so.
  if (/killed or reached its end of life|due to sandbox timeout/i.test(msg))
    return new SandboxError(
      'SANDBOX_GONE',
      `${context}: the E2B sandbox is gone`,
      why(err, 'the next call starts a fresh sandbox'),
    );
  return new SandboxError(
    'TIMEOUT',
    `${context}: E2B did not answer in time`,
    why(err, 'retry; if it persists check the network or raise SANDBOX_CLOUD_REQUEST_TIMEOUT'),
  );
}

/** E2B's base error: what its HTTP status says, if it says anything we know. */
function byStatus(context: string, msg: string, err: Error): SandboxError | undefined {
  const status = (err as { statusCode?: number }).statusCode;
  if (isQuota(msg) || status === 402) return quota(context, msg, err);
  if (status === 403)
    return new SandboxError(
      'PERMISSION_DENIED',
      `${context}: E2B refused the request (${firstLine(msg)})`,
      why(err, 'check that E2B_API_KEY belongs to a team allowed to use this template'),
    );
  if (status === 404)
    return new SandboxError(
      'SANDBOX_GONE',
      `${context}: the E2B sandbox is gone`,
      why(err, 'the next call starts a fresh sandbox'),
    );
  if (status !== undefined && status >= 500)
    return new SandboxError('UNAVAILABLE', `${context}: E2B server error (${status})`, why(err, 'retry in a minute'));
  return undefined;
}

/** Failures below E2B's SDK: our own request timeout and the network. */
function transportFailure(context: string, msg: string, err: unknown): SandboxError | undefined {
  if (err instanceof Error && (err.name === 'TimeoutError' || /aborted due to timeout/i.test(msg))) {
    // The request timeout (SANDBOX_CLOUD_REQUEST_TIMEOUT) fired: AbortSignal.timeout's DOMException.
    return new SandboxError(
      'TIMEOUT',
      `${context}: E2B did not answer in time`,
      why(
        err,
        'check the network and E2B_DOMAIN / E2B_API_URL, or raise SANDBOX_CLOUD_REQUEST_TIMEOUT; the server keeps running',
      ),
    );
  }
  if (isNetworkError(err) || (err instanceof Error && err.name === 'AbortError')) {
    return new SandboxError(
      'UNAVAILABLE',
      `${context}: cannot reach E2B (${networkDetail(err)})`,
      why(err, 'check the network and E2B_DOMAIN / E2B_API_URL; the server keeps running and later calls try again'),
    );
  }
  return undefined;
}

/**
 * The one place where E2B's failures become the project's SandboxError codes, with a message that
 * names E2B and says what to do. Everything the adapter calls goes through `translate`.
 */
export function translate(err: unknown, context = 'E2B'): SandboxError {
  if (err instanceof SandboxError) return err;
  if (isResponseTooLarge(err)) return responseTooLarge('E2B', context, err);
  const msg = err instanceof Error ? err.message : String(err);
  const match = BY_CLASS.find(([errorClass]) => err instanceof errorClass);
  const typed = match ? match[1](context, msg, err as Error) : undefined;
  return (
    typed ??
    transportFailure(context, msg, err) ??
    new SandboxError('INTERNAL', `${context}: ${firstLine(msg)}`, { cause: err })
  );
}

/** Rate limits, 5xx and resets are worth another try; a bad key, a quota or a dead sandbox are not. */
export function isTransient(err: SandboxError): boolean {
  return err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT';
}

function isQuota(msg: string): boolean {
  return /quota|concurrent|maximum number|limit reached|billing|credits/i.test(msg);
}

function quota(context: string, msg: string, err: unknown): SandboxError {
  return new SandboxError('LIMIT_EXCEEDED', `${context}: E2B quota reached (${firstLine(msg)})`, {
    cause: err,
    hint: 'kill sandboxes you no longer use or raise the limit of your E2B plan; retrying will not help',
  });
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.slice(0, 300);
}

function networkDetail(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, d = 0; e && d < 4; e = (e as { cause?: unknown }).cause, d++) {
    const code = (e as { code?: unknown }).code;
    const m = (e as { message?: unknown }).message;
    parts.push(typeof code === 'string' ? code : typeof m === 'string' ? m : '');
  }
  return parts.filter(Boolean).join(': ') || 'network error';
}
