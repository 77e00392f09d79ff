import { describe, expect, it } from 'vitest';
import { SandboxError } from '../../src/errors.js';
import {
  EnvelopeScanner,
  isResponseTooLarge,
  overTheCap,
  ResponseTooLargeError,
  watchResponses,
} from '../../src/providers/shared/response-cap.js';

/** One Connect envelope: a flag byte, a big-endian length, the payload. */
function envelope(payload: Buffer, announced = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(announced, 1);
  return Buffer.concat([header, payload]);
}

describe('EnvelopeScanner', () => {
  it('lets a long stream of small messages through, however the chunks split them', () => {
    const stream = Buffer.concat(Array.from({ length: 50 }, (_, i) => envelope(Buffer.alloc(90 + i, 'x'))));
    for (const size of [1, 3, 5, 7, 64, stream.length]) {
      const scanner = new EnvelopeScanner(200);
      for (let at = 0; at < stream.length; at += size) expect(scanner.scan(stream.subarray(at, at + size))).toBe(true);
    }
  });

  it('stops at a message announced over the cap, even with its header split across chunks', () => {
    const stream = Buffer.concat([envelope(Buffer.alloc(10)), envelope(Buffer.alloc(0), 201)]);
    const scanner = new EnvelopeScanner(200);
    expect(scanner.scan(stream.subarray(0, 17))).toBe(true);
    expect(scanner.scan(stream.subarray(17))).toBe(false);
  });
});

describe('watchResponses', () => {
  it("reports the cap's error even when the SDK re-wrapped the transport's error by its text", async () => {
    const failure = await watchResponses(async () => {
      overTheCap()(1024);
      throw new Error('[unknown] terminated');
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ResponseTooLargeError);
    expect(isResponseTooLarge(new SandboxError('INTERNAL', 'x', { cause: failure }))).toBe(true);
  });

  it('leaves other failures alone', async () => {
    const failure = await watchResponses(() => Promise.reject(new Error('refused'))).catch((error: Error) => error);
    expect((failure as Error).message).toBe('refused');
    expect(isResponseTooLarge(failure)).toBe(false);
  });
});
