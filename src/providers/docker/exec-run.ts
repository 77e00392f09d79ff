import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { SandboxError } from '../../errors.js';
import { HeadTailCapture } from '../../agent/capture.js';
import type { ExecOptions, ExecResult } from '../types.js';
import { execStartFailed } from './errors.js';
import type { ContainerExec } from './exec.js';
import { EndLines, StderrFramer, TrailerScanner, type FrameHeader } from './framing.js';

/** After a kill, answer at the latest this long later even if the engine keeps the stream open. */
export const KILL_GRACE_MS = 5000;
/** How long a kill waits for a command that has not started yet (a loaded engine can take seconds). */
const HEADER_WAIT_MS = 10_000;

/** Signal name for a 128+n status, if n is the signal we sent. */
export function signalFromStatus(status: number | null, sent: string | undefined): string | null {
  if (status === null || !sent || status <= 128) return null;
  return constants.signals[sent as NodeJS.Signals] === status - 128 ? sent : null;
}

export type RunOptions = ExecOptions & { maxOutputBytes: number };

/**
 * One shell_exec in flight in a container: reads the wrapper's framed output (header line, output,
 * exit trailer), kills the command on timeout or cancel, and answers once, when the output has ended.
 */
export class ExecRun {
  private readonly out: HeadTailCapture;
  private readonly err: HeadTailCapture;
  private readonly timers: NodeJS.Timeout[] = [];
  private header: FrameHeader | undefined;
  private trailerCode: number | undefined;
  private killedWith: string | undefined;
  private killSent = false;
  private timedOut = false;
  private cancelled = false;
  private answered = false;
  private resolve: (result: ExecResult) => void = () => undefined;
  private reject: (error: unknown) => void = () => undefined;

  constructor(
    private readonly host: ContainerExec,
    private readonly started: { exec: Dockerode.Exec; stream: Duplex; token: string; at: number },
    private readonly opts: RunOptions,
  ) {
    const budget = Math.max(512, Math.floor(opts.maxOutputBytes / 2));
    this.out = new HeadTailCapture(budget);
    this.err = new HeadTailCapture(budget);
  }

  /** Feeds the command its stdin, arms the timeout and the cancel, and resolves with how the command ended. */
  result(): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.readOutput();
      if (this.opts.stdin !== undefined) this.started.stream.end(this.opts.stdin);
      this.timers.push(setTimeout(this.onTimeout, this.opts.timeoutMs));
      if (this.opts.signal?.aborted) this.onAbort();
      else this.opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    });
  }

  private readonly onTimeout = (): void => {
    if (this.answered) return;
    this.timedOut = true;
    this.killCommand();
  };

  private readonly onAbort = (): void => {
    if (this.answered) return;
    this.cancelled = true;
    this.killCommand();
  };

  /** Splits the exec's stream into the header, the output and the exit trailer; answers when it ends. */
  private readOutput(): void {
    const { stream, token } = this.started;
    const ends = new EndLines(() => void this.finish());
    const framer = new StderrFramer(token, {
      header: (headerLine) => this.onHeader(headerLine),
      data: (data) => {
        this.err.push(data);
        this.emit('stderr', data);
      },
      exit: (code) => {
        this.trailerCode = code;
        ends.exit(code);
      },
    });
    const stdout = new TrailerScanner(token, 'out', {
      data: (data) => {
        this.out.push(data);
        this.emit('stdout', data);
      },
      trailer: () => ends.stdoutEnded(),
    });
    this.host
      .demux(
        stream,
        (chunk) => stdout.push(chunk),
        (chunk) => framer.push(chunk),
      )
      .then(() => {
        stdout.flush();
        framer.flush();
        return this.finish();
      })
      .catch(this.reject);
  }

  private onHeader(headerLine: FrameHeader | undefined): void {
    this.header = headerLine;
    if (headerLine === 'nocwd') void this.finish();
    else if (this.killedWith) this.sendKill();
  }

  private emit(streamName: 'stdout' | 'stderr', chunk: Buffer): void {
    if (!this.answered) this.opts.onOutput?.({ stream: streamName, data: chunk.toString('utf8') });
  }

  // The kill finds the command's processes by their marker, which only exists once the wrapper has
  // started the command (the header line says so). A cancel or timeout that comes earlier waits for
  // the header, else the command would start after the kill and outlive the call.
  private killCommand(): void {
    this.killedWith = 'SIGKILL';
    if (this.header !== undefined) this.sendKill();
    else this.timers.push(setTimeout(() => this.sendKill(), HEADER_WAIT_MS));
  }

  private sendKill(): void {
    if (this.killSent) return;
    this.killSent = true;
    const session = typeof this.header === 'object' ? this.header.pid : 0;
    this.host.kill(this.started.token, 'SIGKILL', session).catch(() => undefined);
    this.timers.push(
      setTimeout(() => {
        this.started.stream.destroy();
        void this.finish();
      }, KILL_GRACE_MS),
    );
  }

  /** Answers once: the first of the stream's end, the exit lines, a bad cwd or the kill's grace period. */
  private async finish(): Promise<void> {
    if (this.answered) return;
    this.answered = true;
    this.timers.forEach(clearTimeout);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    try {
      this.resolve(await this.outcome());
    } catch (error) {
      this.reject(error);
    }
  }

  private async outcome(): Promise<ExecResult> {
    if (this.header === 'nocwd')
      throw new SandboxError('INVALID_ARGUMENT', `cwd ${this.opts.cwd} is not an existing directory`, {
        hint: 'pass an existing directory (relative paths start at the workdir), or create it first with mkdir -p',
      });
    if (this.header === undefined && this.trailerCode === undefined && !this.killedWith)
      throw execStartFailed(this.out.text() + this.err.text());
    if (this.trailerCode === undefined && !this.killedWith && (await this.host.containerGone()))
      throw new SandboxError(
        'SANDBOX_GONE',
        'the sandbox container was removed or stopped while the command ran (not by sandbox-mcp)',
        { hint: 'the next call starts a fresh sandbox; files and processes of this one are gone' },
      );
    const { exitCode, signal } = await this.exitStatus();
    const dropped = this.out.dropped + this.err.dropped;
    return {
      exitCode,
      signal,
      stdout: this.out.text(),
      stderr: this.err.text(),
      durationMs: Math.round((performance.now() - this.started.at) * 100) / 100,
      timedOut: this.timedOut,
      cancelled: this.cancelled,
      truncated: dropped > 0,
      droppedBytes: dropped,
    };
  }

  private async exitStatus(): Promise<{ exitCode: number | null; signal: string | null }> {
    if (this.trailerCode !== undefined) {
      const signal = signalFromStatus(this.trailerCode, this.killedWith);
      return { exitCode: signal ? null : this.trailerCode, signal };
    }
    // The wrapper died with the command (our kill, or the sandbox's memory limit): ask the engine.
    const engineCode = await this.host.exitCode(this.started.exec).catch(() => null);
    return this.killedWith ? { exitCode: null, signal: this.killedWith } : { exitCode: engineCode, signal: null };
  }
}
