import { describe, expect, it } from 'vitest';
import { SandboxError } from '../src/errors.js';
import { isNetworkError, withRetry } from '../src/providers/shared/retry.js';

const translate = (e: unknown) =>
  e instanceof SandboxError ? e : new SandboxError('UNAVAILABLE', String((e as Error).message));
const isTransient = (e: SandboxError) => e.code === 'UNAVAILABLE';

describe('withRetry (exponential backoff with full jitter)', () => {
  it('retries transient failures up to maxRetries, then throws the last one saying how many attempts were made', async () => {
    let calls = 0;
    const err = await withRetry(
      'op',
      async () => {
        calls++;
        throw new Error('busy');
      },
      { maxRetries: 2, translate, isTransient, baseDelayMs: 5 },
    ).catch((e: SandboxError) => e);
    expect(calls).toBe(3);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    expect((err as Error).message).toContain('gave up after 3 attempts');
  });

  it('does not retry permanent failures', async () => {
    let calls = 0;
    await expect(
      withRetry(
        'op',
        async () => {
          calls++;
          throw new SandboxError('AUTH', 'bad key');
        },
        { maxRetries: 5, translate, isTransient },
      ),
    ).rejects.toMatchObject({ code: 'AUTH' });
    expect(calls).toBe(1);
  });

  it('succeeds after transient failures, with delays that grow but stay under the cap', async () => {
    let calls = 0;
    const t0 = Date.now();
    const v = await withRetry(
      'op',
      async () => {
        if (++calls < 3) throw new Error('503');
        return 'ok';
      },
      { maxRetries: 3, translate, isTransient, baseDelayMs: 20, maxDelayMs: 30 },
    );
    expect(v).toBe('ok');
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('starts no retry past the deadline', async () => {
    let calls = 0;
    await expect(
      withRetry(
        'op',
        async () => {
          calls++;
          throw new Error('503');
        },
        { maxRetries: 10, translate, isTransient, baseDelayMs: 1000, maxDelayMs: 1000, deadlineMs: 1 },
      ),
    ).rejects.toBeDefined();
    expect(calls).toBeLessThanOrEqual(2);
  });

  it('recognises connection resets and refusals through error causes', () => {
    expect(
      isNetworkError(
        Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }),
      ),
    ).toBe(true);
    expect(isNetworkError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isNetworkError(new Error('400 bad request'))).toBe(false);
  });
});
