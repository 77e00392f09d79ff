/**
 * Splits a byte stream into lines while holding a bounded amount of it: the last `keep` lines, each
 * cut to `maxLineBytes`. A sandbox can write endlessly to its agent's stderr, with or without
 * newlines; readline would buffer a line without end for ever.
 */
export class BoundedLines {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private tail: string[] = [];

  constructor(
    private readonly keep: number,
    private readonly maxLineBytes: number,
  ) {}

  /** Feeds a chunk; returns the lines it completed (each cut to maxLineBytes). */
  push(chunk: Buffer): string[] {
    const done: string[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, from)) {
      this.hold(chunk.subarray(from, nl));
      done.push(Buffer.concat(this.partial).toString('utf8'));
      this.partial = [];
      this.partialBytes = 0;
      from = nl + 1;
    }
    this.hold(chunk.subarray(from));
    this.tail.push(...done);
    if (this.tail.length > this.keep) this.tail.splice(0, this.tail.length - this.keep);
    return done;
  }

  /** The last lines seen, plus the unfinished one. */
  lines(): string[] {
    const rest = this.partialBytes ? [Buffer.concat(this.partial).toString('utf8')] : [];
    return [...this.tail, ...rest];
  }

  private hold(piece: Buffer): void {
    const room = this.maxLineBytes - this.partialBytes;
    if (room <= 0 || piece.length === 0) return;
    const kept = piece.subarray(0, room);
    this.partial.push(Buffer.from(kept));
    this.partialBytes += kept.length;
  }
}
