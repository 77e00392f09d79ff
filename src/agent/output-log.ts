import { AgentError } from './errors.js';

/** Output kept per background process; older output scrolls out and is reported as dropped. */
const RETAIN_BYTES = 4 * 1024 * 1024;

export interface LogReadOptions {
  cursor?: number;
  waitMs?: number;
  until?: string;
  maxBytes: number;
}

export interface LogRead {
  output: string;
  cursor: number;
  droppedBytes: number;
  matched: boolean;
}

/**
 * The output of one background process (stdout and stderr interleaved) with absolute byte cursors:
 * a reader passes back the cursor it got and sees only what came since, plus how many bytes scrolled
 * out under the retention cap. The agent's process table and the server-side tables of the Docker and
 * cloud providers all keep output here, so shell_read behaves the same on every provider. It lives in
 * the agent folder (Node built-ins only) because only that folder is mounted into the sandbox.
 */
export class OutputLog {
  private chunks: Buffer[] = [];
  /** Absolute offset of chunks[0] in the process's whole output. */
  private start = 0;
  /** Bytes ever appended, including those that scrolled out. */
  total = 0;
  private closed = false;
  private waiters = new Set<() => void>();

  append(data: string | Buffer): void {
    const c = typeof data === 'string' ? Buffer.from(data) : data;
    if (c.length === 0) return;
    this.chunks.push(c);
    this.total += c.length;
    let retained = this.total - this.start;
    while (retained > RETAIN_BYTES && this.chunks.length > 1) {
      const dropped = this.chunks.shift()!;
      this.start += dropped.length;
      retained -= dropped.length;
    }
    this.wake();
  }

  /** The process has ended: readers stop waiting (output that still arrives is kept). */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /** The retained output as text. */
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  /**
   * Output from `cursor` (default: the oldest retained byte), waiting up to `waitMs` while the process
   * runs for any output, or for a line matching `until`. Throws AgentError on an invalid regex.
   */
  async read(logReadOptions: LogReadOptions): Promise<LogRead> {
    let cursor = logReadOptions.cursor ?? this.start;
    if (cursor > this.total) cursor = this.total;
    let until: RegExp | undefined;
    if (logReadOptions.until) {
      try {
        until = new RegExp(logReadOptions.until, 'm');
      } catch (e) {
        throw new AgentError(
          'INVALID_ARGUMENT',
          `invalid until regex: ${(e as Error).message}`,
          'pass a JavaScript regular expression, e.g. "listening on"',
        );
      }
    }
    const deadline = Date.now() + (logReadOptions.waitMs ?? 0);
    // `until` looks at all new output, not just the part one read returns: a line beyond maxBytes still
    // ends the wait (the answer then says more output follows).
    const matched = () =>
      until
        ? until.test(this.slice(cursor, Infinity).text)
        : this.slice(cursor, logReadOptions.maxBytes).text.length > 0;
    while (!this.closed && Date.now() < deadline && !matched()) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, deadline - Date.now());
        const waiters = this.waiters;
        function done() {
          clearTimeout(t);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
    const s = this.slice(cursor, logReadOptions.maxBytes);
    return { output: s.text, cursor: s.end, droppedBytes: s.dropped, matched: until ? matched() : false };
  }

  private slice(cursor: number, maxBytes: number) {
    const dropped = cursor < this.start ? this.start - cursor : 0;
    const from = Math.max(cursor, this.start) - this.start;
    let piece = Buffer.concat(this.chunks).subarray(from, from + maxBytes);
    // A character split by a pipe write or by maxBytes is left for the next read, not decoded as
    // U+FFFD twice; a process that ended mid-character gets its last bytes as they are.
    const whole = utf8Prefix(piece);
    const more = !this.closed || this.start + from + piece.length < this.total;
    // Backing off to nothing only while the rest may still come and maxBytes leaves room for it.
    if (whole < piece.length && more && (whole > 0 || piece.length < maxBytes)) piece = piece.subarray(0, whole);
    return { text: piece.toString('utf8'), end: this.start + from + piece.length, dropped };
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
    this.waiters.clear();
  }
}

/** Length of `data` without a UTF-8 sequence cut off at its end. */
export function utf8Prefix(data: Buffer): number {
  for (let i = data.length - 1, back = 0; i >= 0 && back < 4; i--, back++) {
    const c = data[i]!;
    if ((c & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return back + 1 < need ? i : data.length;
  }
  return data.length;
}
