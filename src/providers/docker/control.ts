import type { Duplex } from 'node:stream';
import { controllerScript } from './framing.js';

export interface ExecStarter {
  start(cmd: string[], opts: { env?: Record<string, string>; stdin: boolean }): Promise<{ stream: Duplex }>;
  demux(stream: Duplex, onStdout: (b: Buffer) => void, onStderr: (b: Buffer) => void): Promise<void>;
}

const ANSWER_TIMEOUT_MS = 5000;
/** "done <24 hex token> <count>" and the like: far shorter than this. */
const MAX_ANSWER_CHARS = 256;
/** Stands for the rest of an overlong line: its end is discarded with it. */
const OVERLONG = 'x'.repeat(MAX_ANSWER_CHARS + 1);

/**
 * The container's kill controller (scripts/controller.sh): started once with the container, kept on an
 * open exec stream. kill() resolves false when the controller is gone or does not answer, so the caller
 * can fall back to a fresh exec.
 */
export class Controller {
  private stream?: Duplex;
  private alive = false;
  private pending = new Map<string, (ok: boolean, detail?: string) => void>();
  private buffered = '';

  async start(runner: ExecStarter): Promise<void> {
    const { stream } = await runner.start(['/bin/bash', '-c', controllerScript(), 'sandbox-mcp-control'], {
      stdin: true,
    });
    this.stream = stream;
    this.alive = true;
    void runner
      .demux(
        stream,
        (b) => this.onAnswer(b),
        () => undefined,
      )
      .then(() => this.stop());
  }

  /**
   * The controller runs as the sandbox user, so a sandbox process can write to its stdout too: lines
   * longer than any answer are dropped as they come, never buffered.
   */
  private onAnswer(data: Buffer): void {
    this.buffered += data.toString('latin1');
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line.length > MAX_ANSWER_CHARS) continue;
      const [word, token, detail] = line.split(' ');
      if (word === 'done' && token) this.pending.get(token)?.(true, detail);
    }
    if (this.buffered.length > MAX_ANSWER_CHARS) this.buffered = OVERLONG;
  }

  async kill(token: string, signal: string, session = 0): Promise<boolean> {
    if (!this.alive || !this.stream) return false;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        resolve(false);
      }, ANSWER_TIMEOUT_MS);
      this.pending.set(token, (ok) => {
        clearTimeout(timer);
        this.pending.delete(token);
        resolve(ok);
      });
      this.stream!.write(`kill ${token} ${signal} ${session}\n`);
    });
  }

  /** Kills every process of the container but its own machinery; the count, or undefined without a controller. */
  async killAll(): Promise<number | undefined> {
    if (!this.alive || !this.stream || this.pending.has('killall')) return undefined;
    return new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete('killall');
        resolve(undefined);
      }, ANSWER_TIMEOUT_MS * 3);
      this.pending.set('killall', (ok, detail) => {
        clearTimeout(timer);
        this.pending.delete('killall');
        resolve(ok ? Number(detail ?? 0) : undefined);
      });
      this.stream!.write('killall\n');
    });
  }

  stop(): void {
    this.alive = false;
    this.stream?.destroy();
    for (const done of [...this.pending.values()]) done(false);
  }
}
