/**
 * Progress of a migration on stderr: a bar redrawn in place on a terminal, plain lines otherwise (one
 * per file, names JSON-quoted so a newline in a name cannot forge a line). stdout is kept for the
 * JSON summary.
 */
export interface Progress {
  phase(name: string, total: number, totalBytes?: number): void;
  /** One unit of the current phase done (`bytes` of it, `label` names it). */
  step(label: string, bytes?: number): void;
  note(line: string): void;
  end(): void;
}

const BAR_WIDTH = 28;
const REDRAW_MS = 100;

export function progressFor(stream: NodeJS.WriteStream): Progress {
  return stream.isTTY ? new TtyProgress(stream) : new LineProgress(stream);
}

class LineProgress implements Progress {
  private name = '';
  private done = 0;
  private total = 0;

  constructor(private readonly out: NodeJS.WritableStream) {}

  phase(name: string, total: number): void {
    this.name = name;
    this.done = 0;
    this.total = total;
    this.out.write(`migrate: ${name}: ${total} to go\n`);
  }

  step(label: string, bytes?: number): void {
    this.done++;
    const size = bytes === undefined ? '' : ` (${bytes} bytes)`;
    this.out.write(`migrate: ${this.name} ${this.done}/${this.total} ${JSON.stringify(label)}${size}\n`);
  }

  note(line: string): void {
    this.out.write(`migrate: ${line}\n`);
  }

  end(): void {}
}

class TtyProgress implements Progress {
  private name = '';
  private done = 0;
  private total = 0;
  private bytes = 0;
  private totalBytes = 0;
  private lastDraw = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  phase(name: string, total: number, totalBytes = 0): void {
    this.finishLine();
    Object.assign(this, { name, total, totalBytes, done: 0, bytes: 0, lastDraw: 0 });
    this.draw('');
  }

  step(label: string, bytes = 0): void {
    this.done++;
    this.bytes += bytes;
    if (Date.now() - this.lastDraw >= REDRAW_MS || this.done === this.total) this.draw(label);
  }

  note(line: string): void {
    this.out.write(`\r\x1b[K${line}\n`);
    this.draw('');
  }

  end(): void {
    this.finishLine();
  }

  private finishLine(): void {
    if (this.name) this.out.write('\n');
    this.name = '';
  }

  private draw(label: string): void {
    this.lastDraw = Date.now();
    const share = this.total ? this.done / this.total : 1;
    const filled = Math.round(share * BAR_WIDTH);
    const mib = (n: number) => (n / (1 << 20)).toFixed(1);
    const size = this.totalBytes ? ` ${mib(this.bytes)}/${mib(this.totalBytes)} MiB` : '';
    // Control characters in a name would move the cursor: shown escaped.
    const shown = JSON.stringify(label).slice(1, -1).slice(0, 40);
    this.out.write(
      `\r\x1b[K${this.name} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${Math.floor(share * 100)}% ${this.done}/${this.total}${size} ${shown}`,
    );
  }
}
