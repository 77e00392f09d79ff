import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import readline from 'node:readline';
import { SandboxError, type SandboxErrorCode } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { FrameReader, frameHeader, type Binary } from './agent/frames.js';
import type { AgentMessage } from './agent/protocol.js';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onEvent?: (stream: 'stdout' | 'stderr', data: string) => void;
}

/**
 * The server's end of the line-delimited JSON channel to a sandbox's agent. Requests carry ids so
 * many can be in flight; a dead agent fails every pending and later request with SANDBOX_GONE.
 */
export class AgentConnection {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private deadReason?: string;
  private markReady!: (pid: number) => void;
  readonly ready: Promise<number>;

  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly log: Logger,
    private readonly onExit: (reason: string) => void,
  ) {
    let failReady!: (e: Error) => void;
    this.ready = new Promise<number>((res, rej) => { this.markReady = res; failReady = rej; });
    this.ready.catch(() => undefined);
    const stderrTail: string[] = [];
    readline.createInterface({ input: child.stderr }).on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
      log.debug({ agentStderr: line }, 'agent stderr');
    });
    const reader = new FrameReader(
      (m) => this.dispatch(m as unknown as AgentMessage),
      (line) => log.warn({ line: line.slice(0, 200) }, 'unparsable agent line'),
    );
    child.stdout.on('data', (chunk: Buffer) => reader.push(chunk));
    child.stdin.on('error', () => { /* reported through exit */ });
    child.on('exit', (code, signal) => {
      const detail = stderrTail.join('\n').trim();
      this.deadReason = `sandbox process exited (${signal ?? `code ${code}`})${detail ? `: ${detail.slice(-500)}` : ''}`;
      failReady(new SandboxError('SANDBOX_GONE', `the sandbox failed to start: ${this.deadReason}`));
      for (const p of this.pending.values()) p.reject(this.goneError());
      this.pending.clear();
      onExit(this.deadReason);
    });
  }

  private dispatch(msg: AgentMessage): void {
    if ('ready' in msg) { this.markReady(msg.pid); return; }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if ('event' in msg) { p.onEvent?.(msg.stream, msg.data); return; }
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new SandboxError(msg.error.code as SandboxErrorCode, msg.error.message, { hint: msg.error.hint }));
  }

  get alive(): boolean {
    return this.deadReason === undefined;
  }

  private goneError(): SandboxError {
    return new SandboxError('SANDBOX_GONE', `the sandbox is gone: ${this.deadReason}`, { hint: 'call again: a fresh sandbox will be created' });
  }

  /**
   * Sends one request; `onEvent` receives streamed output for exec; `bin` travels as raw bytes after
   * the request line (see agent/frames.ts). Returns the request id too.
   */
  request<T>(op: string, args: Record<string, unknown>, onEvent?: Pending['onEvent'], bin?: Binary): { id: number; result: Promise<T> } {
    const id = this.nextId++;
    if (!this.alive) return { id, result: Promise.reject(this.goneError()) };
    const result = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent });
    });
    this.child.stdin.write(frameHeader({ ...args, id, op, stream: onEvent ? true : undefined }, bin));
    if (bin) this.child.stdin.write(bin.data);
    return { id, result };
  }

  call<T>(op: string, args: Record<string, unknown> = {}, bin?: Binary): Promise<T> {
    return this.request<T>(op, args, undefined, bin).result;
  }

  /** Closing stdin tells the agent to stop; the caller kills the process tree as a backstop. */
  close(): void {
    this.child.stdin.end();
  }
}
