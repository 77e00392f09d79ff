import { DaytonaConnectionError, DaytonaError, DaytonaTimeoutError } from '@daytonaio/sdk';
import { SandboxError } from '../../errors.js';
import { isResponseTooLarge, responseTooLarge } from '../shared/response-cap.js';
import { isNetworkError } from '../shared/retry.js';

/**
 * The one place where Daytona's failures become the project's SandboxError codes, with a message that
 * names Daytona and says what to do. `scope` tells a missing sandbox (API calls) from a missing file
 * or process (toolbox calls inside a sandbox).
 */
export function translate(err: unknown, context = 'Daytona', scope: 'api' | 'toolbox' = 'api'): SandboxError {
  if (err instanceof SandboxError) return err;
  if (isResponseTooLarge(err)) return responseTooLarge('Daytona', context, err);
  const msg = firstLine(err instanceof Error ? err.message : String(err));
  const cause = { cause: err };
  if (err instanceof DaytonaConnectionError || (!(err instanceof DaytonaError) && isNetworkError(err))) {
    return new SandboxError('UNAVAILABLE', `${context}: cannot reach Daytona (${msg})`, {
      ...cause,
      hint: 'check the network and DAYTONA_SERVER_URL; the server keeps running and later calls try again',
    });
  }
  if (err instanceof DaytonaTimeoutError) {
    return new SandboxError('TIMEOUT', `${context}: Daytona did not answer in time`, {
      ...cause,
      hint: 'retry; if it persists check the network or raise SANDBOX_CLOUD_REQUEST_TIMEOUT',
    });
  }
  const status = err instanceof DaytonaError ? err.statusCode : undefined;
  if (/credentials not found|api key/i.test(msg) && (status === undefined || status === 401)) {
    return new SandboxError('AUTH', `${context}: Daytona rejected the credentials (${msg})`, {
      ...cause,
      hint: 'check DAYTONA_API_KEY (from https://app.daytona.io/dashboard/keys), then restart the server',
    });
  }
  switch (status) {
    case 401:
      return new SandboxError('AUTH', `${context}: Daytona rejected the credentials (${msg})`, {
        ...cause,
        hint: 'check DAYTONA_API_KEY (from https://app.daytona.io/dashboard/keys), then restart the server',
      });
    case 403:
      if (isQuota(msg)) return quota(context, msg, err);
      return new SandboxError('PERMISSION_DENIED', `${context}: Daytona refused the request (${msg})`, {
        ...cause,
        hint: 'check that DAYTONA_API_KEY has the sandbox permissions and DAYTONA_TARGET is a region your organisation can use',
      });
    case 404:
      if (scope === 'api' || /sandbox .*not found|sandbox is not running|no such sandbox/i.test(msg)) {
        return new SandboxError('SANDBOX_GONE', `${context}: the Daytona sandbox is gone (${msg})`, {
          ...cause,
          hint: 'the next call starts a fresh sandbox',
        });
      }
      return new SandboxError('NOT_FOUND', `${context}: ${msg}`, cause);
    case 409:
      return new SandboxError('ALREADY_EXISTS', `${context}: ${msg}`, cause);
    case 410:
      return new SandboxError('NOT_FOUND', `${context}: ${msg}`, {
        ...cause,
        hint: 'the process or session has ended; start it again',
      });
    case 400:
    case 422:
      if (isQuota(msg)) return quota(context, msg, err);
      if (scope === 'api' && /snapshot/i.test(msg))
        return new SandboxError('INVALID_ARGUMENT', `${context}: ${msg}`, {
          ...cause,
          hint: 'check DAYTONA_SNAPSHOT names a snapshot of your organisation',
        });
      return new SandboxError('INVALID_ARGUMENT', `${context}: ${msg}`, cause);
    case 429:
      if (isQuota(msg)) return quota(context, msg, err);
      return new SandboxError('UNAVAILABLE', `${context}: Daytona is rate limiting requests (429)`, {
        ...cause,
        hint: 'wait a few seconds and retry',
      });
    case 500:
    case 502:
    case 503:
    case 504:
      return new SandboxError('UNAVAILABLE', `${context}: Daytona is temporarily unavailable (${status})`, {
        ...cause,
        hint: 'retry in a minute',
      });
    default:
      break;
  }
  if (isQuota(msg)) return quota(context, msg, err);
  return new SandboxError('INTERNAL', `${context}: ${msg}`, cause);
}

/** Rate limits, 5xx and connection failures are worth another try; nothing else is. */
export function isTransient(err: SandboxError): boolean {
  return err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT';
}

function isQuota(msg: string): boolean {
  return /quota|limit exceeded|limit reached|total cpu|total memory|total disk|maximum number|credits|billing/i.test(
    msg,
  );
}

function quota(context: string, msg: string, err: unknown): SandboxError {
  return new SandboxError('LIMIT_EXCEEDED', `${context}: Daytona quota reached (${msg})`, {
    cause: err,
    hint: 'delete or stop sandboxes you no longer use, or raise your organisation limits; retrying will not help',
  });
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.slice(0, 300);
}
