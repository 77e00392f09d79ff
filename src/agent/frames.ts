/**
 * Framing on the agent channel: one JSON object per line, optionally followed by raw bytes. A line
 * carrying `$len: N` and `$bin: "field"` (or "result.field") is followed by exactly N bytes, which
 * the reader sets at that field as a Buffer. File contents thus cross the channel without base64 or
 * JSON escaping, which halves the cost of moving a large file through the agent.
 *
 * The server reads what a sandbox sends, so the reader treats every byte as hostile: lines and bodies
 * have caps (nothing is buffered past them), `$bin` must name one of the fields the caller expects
 * (never a path into arbitrary objects such as `__proto__.x`), and the first violation stops the
 * reader for good: after a bad header the stream cannot be trusted to line up again.
 */
export interface Binary {
  field: string;
  data: Buffer;
}

/** A handler result with bytes that travel raw beside it (at `result.<field>`). */
export class WithBytes {
  constructor(
    readonly value: Record<string, unknown>,
    readonly field: string,
    readonly data: Buffer,
  ) {}
}

export function frameHeader(msg: object, bin?: Binary): string {
  return `${JSON.stringify(bin ? { ...msg, $bin: bin.field, $len: bin.data.length } : msg)}\n`;
}

export interface FrameLimits {
  /** Longest line (newline excluded) accepted; a longer one, or that much without a newline, is an error. */
  maxLineBytes: number;
  /** Largest `$len`. */
  maxBodyBytes: number;
  /** The `$bin` values accepted: "field" or "outer.field", where `outer` must be an object in the message. */
  binFields: readonly string[];
}

export type Frame = Record<string, unknown>;

export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Buffered bytes already known to hold no newline, so a long line is scanned once. */
  private scanned = 0;
  private body?: { msg: Frame; field: string; len: number };
  private failure?: string;

  constructor(
    private readonly onMessage: (msg: Frame) => void,
    /** Called once, at the first violation; the reader ignores everything after it. */
    private readonly onError: (reason: string) => void,
    private readonly limits: FrameLimits,
  ) {}

  /** Why the reader stopped, if it did. */
  get failed(): string | undefined {
    return this.failure;
  }

  push(chunk: Buffer): void {
    if (this.failure) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (!this.failure) {
      if (this.body) {
        if (this.size < this.body.len) return;
        const { msg, field, len } = this.body;
        this.body = undefined;
        if (!placeBody(msg, field, this.take(len)))
          return this.fail(`$bin "${field}" names a field that is not an object in its message`);
        this.onMessage(msg);
        continue;
      }
      const nl = this.newline();
      if (nl < 0) {
        if (this.size > this.limits.maxLineBytes) this.fail(`a line longer than ${this.limits.maxLineBytes} bytes`);
        return;
      }
      if (nl > this.limits.maxLineBytes)
        return this.fail(`a line of ${nl} bytes, over the ${this.limits.maxLineBytes}-byte limit`);
      const line = this.take(nl + 1).toString('utf8', 0, nl);
      if (line) this.parseLine(line);
    }
  }

  private parseLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return this.fail(`a line that is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (!isPlainObject(msg)) return this.fail('a line that is not a JSON object');
    const hasLen = Object.hasOwn(msg, '$len');
    const hasBin = Object.hasOwn(msg, '$bin');
    if (!hasLen && !hasBin) return this.onMessage(msg);
    const { $len: len, $bin: field } = msg;
    if (typeof field !== 'string' || !this.limits.binFields.includes(field)) {
      return this.fail(`$bin ${JSON.stringify(field)?.slice(0, 80)} is not one of ${this.limits.binFields.join(', ')}`);
    }
    if (typeof len !== 'number' || !Number.isSafeInteger(len) || len < 0 || len > this.limits.maxBodyBytes) {
      return this.fail(`$len ${String(len).slice(0, 40)} is not a byte count from 0 to ${this.limits.maxBodyBytes}`);
    }
    delete msg.$len;
    delete msg.$bin;
    this.body = { msg, field, len };
  }

  private fail(reason: string): void {
    this.failure = reason;
    this.chunks = [];
    this.size = 0;
    this.body = undefined;
    this.onError(reason);
  }

  private newline(): number {
    let offset = 0;
    for (const c of this.chunks) {
      if (offset + c.length > this.scanned) {
        const i = c.indexOf(10, Math.max(0, this.scanned - offset));
        if (i >= 0) return offset + i;
      }
      offset += c.length;
    }
    this.scanned = this.size;
    return -1;
  }

  private take(count: number): Buffer {
    this.size -= count;
    this.scanned = 0;
    const first = this.chunks[0];
    if (first && first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const parts: Buffer[] = [];
    for (let need = count; need > 0;) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    return Buffer.concat(parts, count);
  }
}

function isPlainObject(value: unknown): value is Frame {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Sets the body at its (allow-listed) field. The outer object must be the message's own property:
 * JSON.parse makes `__proto__` an own key too, so nothing here ever reaches a prototype.
 */
function placeBody(msg: Frame, field: string, data: Buffer): boolean {
  const dot = field.indexOf('.');
  const target = dot < 0 ? msg : Object.hasOwn(msg, field.slice(0, dot)) ? msg[field.slice(0, dot)] : undefined;
  if (!isPlainObject(target)) return false;
  Object.defineProperty(target, dot < 0 ? field : field.slice(dot + 1), {
    value: data,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return true;
}
