import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { SandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { agentEnvelope, agentResults, knownErrorCode, type AgentOp, type AgentResult } from './agent-messages.js';
import { FrameReader, frameHeader, type Binary, type Frame } from '../../agent/frames.js';
import { MAX_TRANSFER_BYTES, REPLY_BIN_FIELDS, replyLineLimit } from '../../agent/protocol.js';
import { BoundedLines } from './bounded-lines.js';

interface Pending {
  op: AgentOp;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onEvent?: (stream: 'stdout' | 'stderr', data: string) => void;
  deadline: NodeJS.Timeout;
}

/**
 * How long past a request's own time budget (an exec's timeoutMs, a read's waitMs) its answer may take.
 * The agent answers every request by then; one that does not was stopped by code in the sandbox (it runs
 * as the same user: `kill -STOP -1` freezes it), and without a deadline the call would wait for ever.
 */
const ANSWER_GRACE_MS = 10_000;
/** The budget of a request that has none of its own (file operations, a process list). */
const UNTIMED_ANSWER_MS = 120_000;
/** How long the ping after a missed deadline may take before the sandbox is ended. */
const PING_ANSWER_MS = 5_000;

/** When the server stops waiting for the answer to a request with these arguments. */
function answerDeadlineMs(args: Record<string, unknown>): number {
  const own = Math.max(Number(args.timeoutMs) || 0, Number(args.waitMs) || 0);
  return (own > 0 ? own : UNTIMED_ANSWER_MS) + ANSWER_GRACE_MS;
}

export interface AgentConnectionOptions {
  /** The server's output cap (config.maxOutputBytes): the longest legitimate reply line follows from it. */
  maxOutputBytes: number;
}

/** The process end the connection needs: its pipes, exit, and a kill for an agent that breaks the protocol. */
export type AgentProcess = Pick<ChildProcessWithoutNullStreams, 'stdin' | 'stdout' | 'stderr' | 'on' | 'kill'>;

/**
 * The server's end of the line-delimited JSON channel to a sandbox's agent. Requests carry ids so
 * many can be in flight; a dead agent fails every pending and later request with SANDBOX_GONE.
 *
 * The agent lives inside the sandbox, so everything it sends is untrusted: frames are size-capped and
 * validated (agent-messages.ts), replies for unknown ids are dropped, error codes are mapped onto ours.
 * The first violation kills the sandbox: only that session is affected, and it is told why.
 */
export class AgentConnection {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private lastActivity = performance.now();
  private deadReason?: string;
  /** Why the server stopped the sandbox (a broken protocol, an agent that no longer answers). */
  private violation?: string;
  private probing = false;
  private markReady!: (pid: number) => void;
  private failReady!: (e: Error) => void;
  readonly ready: Promise<number>;

  constructor(
    private readonly child: AgentProcess,
    private readonly log: Logger,
    private readonly onExit: (reason: string) => void,
    opts: AgentConnectionOptions,
  ) {
    this.ready = new Promise<number>((res, rej) => {
      this.markReady = res;
      this.failReady = rej;
    });
    this.ready.catch(() => undefined);
    const stderrTail = new BoundedLines(20, 1000);
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of stderrTail.push(chunk)) log.debug({ agentStderr: line }, 'agent stderr');
    });
    const reader = new FrameReader(
      (m) => this.dispatch(m),
      (reason) => this.breakProtocol(reason),
      {
        maxLineBytes: replyLineLimit(opts.maxOutputBytes),
        maxBodyBytes: MAX_TRANSFER_BYTES,
        binFields: REPLY_BIN_FIELDS,
      },
    );
    child.stdout.on('data', (chunk: Buffer) => reader.push(chunk));
    child.stdin.on('error', () => {
      /* reported through exit */
    });
    child.on('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      const detail = stderrTail.lines().join('\n').trim();
      this.end(
        this.violation ??
          `sandbox process exited (${signal ?? `code ${code}`})${detail ? `: ${detail.slice(-500)}` : ''}`,
      );
      onExit(this.deadReason!);
    });
  }

  /** How long the channel has been quiet (no request in flight, none sent or answered): 0 while busy. */
  quietForMs(): number {
    return this.pending.size ? 0 : performance.now() - this.lastActivity;
  }

  /** Why the server stopped the sandbox, if it did ("broke the agent protocol ...", "stopped answering ..."). */
  get protocolViolation(): string | undefined {
    return this.violation;
  }

  private dispatch(frame: Frame): void {
    const parsed = agentEnvelope.safeParse(frame);
    if (!parsed.success)
      return this.breakProtocol(`a message of unknown shape (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    const msg = parsed.data;
    if ('ready' in msg) {
      this.markReady(msg.pid);
      return;
    }
    // A reply to a request that is over (answered, or its sandbox is ending) is dropped.
    const p = this.pending.get(msg.id);
    if (!p) return;
    if ('event' in msg) {
      p.onEvent?.(msg.stream, msg.data);
      return;
    }
    this.pending.delete(msg.id);
    this.lastActivity = performance.now();
    clearTimeout(p.deadline);
    if (!msg.ok) {
      p.reject(new SandboxError(knownErrorCode(msg.error.code), msg.error.message, { hint: msg.error.hint }));
      return;
    }
    const result = agentResults[p.op].safeParse(msg.result);
    if (!result.success) {
      const issue = result.error.issues[0];
      this.breakProtocol(
        `a ${p.op} result of the wrong shape (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'})`,
      );
      return p.reject(this.goneError());
    }
    p.resolve(result.data);
  }

  /**
   * The sandbox sent something the protocol does not allow (a forged or corrupt frame): it is killed,
   * since nothing it sends on this channel can be trusted any more. Pending calls fail with the reason.
   */
  private breakProtocol(detail: string): void {
    this.stop(
      `broke the agent protocol and was stopped (it sent ${detail})`,
      'sandbox broke the agent protocol; killing it',
    );
  }

  /** Kills a sandbox that cannot be trusted or used any more; `reason` completes "the sandbox ...". */
  private stop(reason: string, logMessage: string): void {
    if (this.violation || !this.alive) return;
    this.violation = reason;
    this.log.warn({ reason }, logMessage);
    this.end(this.violation);
    this.child.kill('SIGKILL');
  }

  private end(reason: string): void {
    this.deadReason ??= reason;
    this.failReady(new SandboxError('SANDBOX_GONE', `the sandbox failed to start: ${this.deadReason}`));
    for (const p of this.pending.values()) {
      clearTimeout(p.deadline);
      p.reject(this.goneError());
    }
    this.pending.clear();
  }

  get alive(): boolean {
    return this.deadReason === undefined;
  }

  private goneError(): SandboxError {
    if (this.violation)
      return new SandboxError('SANDBOX_GONE', `the sandbox ${this.violation}`, {
        hint: 'call again for a fresh one; its files and processes are gone',
      });
    return new SandboxError('SANDBOX_GONE', `the sandbox is gone: ${this.deadReason}`, {
      hint: 'call again: a fresh sandbox will be created',
    });
  }

  /**
   * Sends one request; `onEvent` receives streamed output for exec; `bin` travels as raw bytes after
   * the request line (see agent/frames.ts). Returns the request id too.
   */
  request<O extends AgentOp>(
    operation: O,
    args: Record<string, unknown>,
    onEvent?: Pending['onEvent'],
    bin?: Binary,
    waitMs = answerDeadlineMs(args),
  ): { id: number; result: Promise<AgentResult<O>> } {
    const id = this.nextId++;
    this.lastActivity = performance.now();
    if (!this.alive) return { id, result: Promise.reject(this.goneError()) };
    const result = new Promise<AgentResult<O>>((resolve, reject) => {
      const deadline = setTimeout(() => this.giveUp(id, waitMs), waitMs).unref();
      this.pending.set(id, { op: operation, resolve: resolve as (v: unknown) => void, reject, onEvent, deadline });
    });
    this.child.stdin.write(frameHeader({ ...args, id, op: operation, stream: onEvent ? true : undefined }, bin));
    if (bin) this.child.stdin.write(bin.data);
    return { id, result };
  }

  /**
   * A request unanswered past its deadline fails (a late answer is dropped like any unknown id), and
   * the agent is asked for a ping: a sandbox whose agent does not answer that either is ended, so the
   * session's next call gets a fresh one instead of waiting for ever again.
   */
  private giveUp(id: number, waitMs: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.log.warn({ op: p.op, waitMs }, 'sandbox agent did not answer in time');
    p.reject(
      new SandboxError(
        'TIMEOUT',
        `the sandbox did not answer (${p.op}) within ${Math.round(waitMs / 1000)} s: a process inside it may have stopped its agent (kill -STOP), or the machine is overloaded`,
        {
          hint: 'call again: a sandbox whose agent no longer answers at all is ended, and the next call gets a fresh one',
        },
      ),
    );
    void this.checkAnswering();
  }

  private async checkAnswering(): Promise<void> {
    if (this.probing || !this.alive) return;
    this.probing = true;
    const answered = await this.request('ping', {}, undefined, undefined, PING_ANSWER_MS).result.then(
      () => true,
      () => false,
    );
    this.probing = false;
    if (!answered)
      this.stop(
        'stopped answering (a process inside it may have stopped its agent with kill -STOP), so it was ended',
        'sandbox agent does not answer a ping; killing the sandbox',
      );
  }

  call<O extends AgentOp>(operation: O, args: Record<string, unknown> = {}, bin?: Binary): Promise<AgentResult<O>> {
    return this.request(operation, args, undefined, bin).result;
  }

  /** Closing stdin tells the agent to stop; the caller kills the process tree as a backstop. */
  close(): void {
    this.child.stdin.end();
  }
}
