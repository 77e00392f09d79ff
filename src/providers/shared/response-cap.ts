import { AsyncLocalStorage } from 'node:async_hooks';
import { MAX_TRANSFER_BYTES } from '../../agent/protocol.js';
import { SandboxError } from '../../errors.js';

/**
 * The most bytes one answer of a cloud sandbox's daemon (E2B's envd, Daytona's toolbox) may hold.
 * Those daemons run inside the sandbox, where hostile code can replace them, and the vendor SDKs
 * buffer a whole answer before handing it over: without a cap one answer could take all of the
 * server's memory, and every session with it. A read moves at most MAX_TRANSFER_BYTES; the rest is
 * room for the answer's framing.
 */
export const MAX_VENDOR_RESPONSE_BYTES = MAX_TRANSFER_BYTES + (1 << 20);

const MARK = 'sandbox daemon answer over';

/** Raised inside the transport when an answer passes the cap (the SDK may wrap it, keeping the text). */
export class ResponseTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`${MARK} ${limit} bytes: the download was stopped`);
    this.name = 'ResponseTooLargeError';
  }
}

/**
 * The SDKs re-wrap a transport error by its text, and some lose it ("terminated"): a vendor call run
 * in `watchResponses` is told the real reason by the transport, through this store.
 */
const watched = new AsyncLocalStorage<{ over?: ResponseTooLargeError }>();

/** Runs one vendor call; when the transport cut one of its answers off, it fails with the cap's error. */
export async function watchResponses<T>(call: () => Promise<T>): Promise<T> {
  const store: { over?: ResponseTooLargeError } = {};
  try {
    return await watched.run(store, call);
  } catch (error) {
    throw store.over ?? error;
  }
}

/** For the transport, when a request starts: the function that makes (and reports) its cap error. */
export function overTheCap(): (limit: number) => ResponseTooLargeError {
  const store = watched.getStore();
  return (limit) => {
    const error = new ResponseTooLargeError(limit);
    if (store) store.over = error;
    return error;
  };
}

/**
 * Reads the framing of a Connect stream (each message: 1 flag byte, a 4-byte big-endian length, the
 * message) and tells when one message announces more than `maxBytes`: a stream as a whole may be long
 * (a command's output), one message may not (the SDK buffers it whole).
 */
export class EnvelopeScanner {
  private readonly header = Buffer.alloc(5);
  private headerBytes = 0;
  private payloadLeft = 0;

  constructor(private readonly maxBytes: number) {}

  /** False once a message over the cap is announced. */
  scan(chunk: Buffer): boolean {
    let at = 0;
    while (at < chunk.length) {
      if (this.payloadLeft > 0) {
        const skip = Math.min(this.payloadLeft, chunk.length - at);
        this.payloadLeft -= skip;
        at += skip;
        continue;
      }
      const take = Math.min(5 - this.headerBytes, chunk.length - at);
      chunk.copy(this.header, this.headerBytes, at, at + take);
      this.headerBytes += take;
      at += take;
      if (this.headerBytes === 5) {
        this.headerBytes = 0;
        this.payloadLeft = this.header.readUInt32BE(1);
        if (this.payloadLeft > this.maxBytes) return false;
      }
    }
    return true;
  }
}

/** Whether `err`, or an error it wraps, is the cap's (vendor SDKs re-wrap errors, some by message only). */
export function isResponseTooLarge(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 8) return false;
  if (err instanceof ResponseTooLargeError || err.message.includes(MARK)) return true;
  if (/maxContentLength size of \d+ exceeded/.test(err.message)) return true;
  return isResponseTooLarge((err as { cause?: unknown }).cause, depth + 1);
}

/** The SandboxError for an answer over the cap; `vendor` names the daemon's maker. */
export function responseTooLarge(vendor: string, context: string, cause: unknown): SandboxError {
  return new SandboxError(
    'LIMIT_EXCEEDED',
    `${context}: the ${vendor} sandbox answered with more than ${MAX_VENDOR_RESPONSE_BYTES >> 20} MiB, so the server stopped reading`,
    {
      cause,
      hint: 'a command that printed this much did run: rerun it with its output redirected to a file and read parts of that file (offset, length); a listing or search: ask for less (a narrower path); otherwise the sandbox daemon misbehaves: kill the sandbox',
    },
  );
}
