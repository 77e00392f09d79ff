/**
 * Framing on the agent channel: one JSON object per line, optionally followed by raw bytes. A line
 * carrying `$len: N` and `$bin: "field"` (or "result.field") is followed by exactly N bytes, which
 * the reader sets at that field as a Buffer. File contents thus cross the channel without base64 or
 * JSON escaping, which halves the cost of moving a large file through the agent.
 */
export interface Binary {
  field: string;
  data: Buffer;
}

/** A handler result with bytes that travel raw beside it (at `result.<field>`). */
export class WithBytes {
  constructor(readonly value: Record<string, unknown>, readonly field: string, readonly data: Buffer) {}
}

export function frameHeader(msg: object, bin?: Binary): string {
  return `${JSON.stringify(bin ? { ...msg, $bin: bin.field, $len: bin.data.length } : msg)}\n`;
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Buffered bytes already known to hold no newline, so a long line is scanned once. */
  private scanned = 0;
  private body?: { msg: Record<string, unknown>; field: string; len: number };

  constructor(
    private readonly onMessage: (msg: Record<string, unknown>) => void,
    private readonly onBadLine: (line: string) => void,
  ) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    for (;;) {
      if (this.body) {
        if (this.size < this.body.len) return;
        const { msg, field, len } = this.body;
        this.body = undefined;
        const dot = field.indexOf('.');
        const target = (dot < 0 ? msg : msg[field.slice(0, dot)]) as Record<string, unknown> | undefined;
        if (target && typeof target === 'object') target[dot < 0 ? field : field.slice(dot + 1)] = this.take(len);
        else this.take(len);
        this.onMessage(msg);
        continue;
      }
      const nl = this.newline();
      if (nl < 0) return;
      const line = this.take(nl + 1).toString('utf8', 0, nl);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.onBadLine(line);
        continue;
      }
      if (typeof msg.$len === 'number' && typeof msg.$bin === 'string') {
        this.body = { msg, field: msg.$bin, len: msg.$len };
        delete msg.$len;
        delete msg.$bin;
        continue;
      }
      this.onMessage(msg);
    }
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

  private take(n: number): Buffer {
    this.size -= n;
    this.scanned = 0;
    const first = this.chunks[0];
    if (first && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const parts: Buffer[] = [];
    for (let need = n; need > 0;) {
      const c = this.chunks[0]!;
      if (c.length <= need) { parts.push(c); this.chunks.shift(); need -= c.length; }
      else { parts.push(c.subarray(0, need)); this.chunks[0] = c.subarray(need); need = 0; }
    }
    return Buffer.concat(parts, n);
  }
}
