/**
 * Keeps the head and the tail of a stream within a byte budget and counts what fell out of the
 * middle, so a command that prints gigabytes costs a bounded amount of memory and still shows how it
 * started and how it ended.
 */
export class HeadTailCapture {
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  total = 0;

  constructor(private readonly budget: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const headRoom = Math.ceil(this.budget / 2) - this.headBytes;
    if (headRoom > 0) {
      const part = chunk.subarray(0, headRoom);
      this.head.push(part);
      this.headBytes += part.length;
      chunk = chunk.subarray(part.length);
      if (chunk.length === 0) return;
    }
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    const tailBudget = Math.floor(this.budget / 2);
    while (this.tailBytes - (this.tail[0]?.length ?? 0) >= tailBudget && this.tail.length > 1) {
      this.tailBytes -= this.tail.shift()!.length;
    }
    if (this.tailBytes > tailBudget * 2) {
      // One huge chunk: keep only its end.
      const joined = Buffer.concat(this.tail).subarray(-tailBudget);
      this.tail = [joined];
      this.tailBytes = joined.length;
    }
  }

  get dropped(): number {
    return this.total - this.kept().length;
  }

  private kept(): Buffer {
    const tailBudget = Math.floor(this.budget / 2);
    const tail = Buffer.concat(this.tail);
    return Buffer.concat([...this.head, tail.subarray(Math.max(0, tail.length - tailBudget))]);
  }

  /** The kept text, with a marker where bytes were dropped. */
  text(): string {
    const tailBudget = Math.floor(this.budget / 2);
    const head = Buffer.concat(this.head).toString('utf8');
    const tailBuf = Buffer.concat(this.tail);
    const tail = tailBuf.subarray(Math.max(0, tailBuf.length - tailBudget)).toString('utf8');
    const dropped = this.dropped;
    if (dropped === 0) return head + tail;
    return `${head}\n[... ${dropped} bytes dropped: output exceeded the ${this.budget}-byte cap; redirect to a file and read it in ranges ...]\n${tail}`;
  }
}
