import type { Logger } from '../../logger.js';
import { isSandboxError, type SandboxError } from '../../errors.js';

export interface RetryOptions {
  /** Retries after the first attempt (E2B_MAX_RETRIES, DAYTONA_MAX_RETRIES). */
  maxRetries: number;
  /** Turns any thrown value into a SandboxError (the provider's one translation point). */
  translate: (err: unknown) => SandboxError;
  /** Whether a translated failure is worth another attempt (429, 503, connection resets). */
  isTransient: (err: SandboxError, raw: unknown) => boolean;
  /** No retry starts after this much time: bounds how long a tool call can wait on a sick provider. */
  deadlineMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  log?: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Exponential backoff with full jitter (a random delay in [0, base * 2^attempt], capped), so that
 * many clients retrying after one outage do not come back in lockstep. Permanent failures (bad key,
 * quota, not found) are thrown at once, translated; the last transient one is thrown after the
 * retries run out, with how many attempts were made.
 */
export async function withRetry<T>(what: string, callback: () => Promise<T>, retryOptions: RetryOptions): Promise<T> {
  const started = Date.now();
  const deadline = retryOptions.deadlineMs ?? 25_000;
  const base = retryOptions.baseDelayMs ?? 250;
  const cap = retryOptions.maxDelayMs ?? 4000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await callback();
    } catch (raw) {
      const err = retryOptions.translate(raw);
      const transient = retryOptions.isTransient(err, raw);
      const delay = Math.round(Math.random() * Math.min(cap, base * 2 ** attempt));
      if (!transient || attempt >= retryOptions.maxRetries || Date.now() - started + delay > deadline) {
        if (transient && attempt > 0) {
          Object.defineProperty(err, 'message', { value: `${err.message} (gave up after ${attempt + 1} attempts)` });
        }
        throw err;
      }
      retryOptions.log?.warn(
        { what, attempt: attempt + 1, delayMs: delay, code: err.code, err: err.message },
        'transient provider failure: retrying',
      );
      await sleep(delay);
    }
  }
}

/** Network-level failures that a retry may fix: resets, refused or timed-out connections, DNS blips. */
export function isNetworkError(err: unknown): boolean {
  const codes = [
    'ECONNRESET',
    'ECONNREFUSED',
    'ETIMEDOUT',
    'EPIPE',
    'EAI_AGAIN',
    'ENOTFOUND',
    'UND_ERR_SOCKET',
    'UND_ERR_CONNECT_TIMEOUT',
    'ECONNABORTED',
    'EHOSTUNREACH',
    'ENETUNREACH',
  ];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isSandboxError(e) && e !== err) continue;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && codes.includes(code)) return true;
    const msg = (e as { message?: unknown }).message;
    if (typeof msg === 'string' && /fetch failed|socket hang up|network error|other side closed|terminated/i.test(msg))
      return true;
  }
  return false;
}
