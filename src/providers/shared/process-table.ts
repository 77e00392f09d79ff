import { SandboxError } from '../../errors.js';
import { OutputLog } from '../../agent/output-log.js';
import type { ProcessInfo, ReadOptions, ReadResult } from '../types.js';
import { translateAgentError } from './agent-errors.js';
import { newProcessId, ProcRecords } from './proc-records.js';

/** Finished processes kept for shell_read/shell_list before the oldest are forgotten. */
const KEEP_EXITED = 64;

type ProcRecord = Awaited<ReturnType<ProcRecords['list']>>[number];

/**
 * A background process this server follows (docker, E2B, Daytona): its output kept here with
 * absolute byte cursors, exactly like the local agent's process table, so shell_read behaves the
 * same on every provider.
 */
export class ServerProcess {
  private readonly log = new OutputLog();
  running = true;
  exitCode: number | null = null;
  signal: string | null = null;
  stdinClosed = false;
  readonly startedAt = new Date().toISOString();

  constructor(
    readonly processId: string,
    readonly command: string,
    /** -1 until known (docker learns it from the process's first frame). */
    public pid: number,
    readonly name?: string,
  ) {}

  append(data: string | Buffer): void {
    this.log.append(data);
  }

  /** All the output kept so far, as text (for an error about a process that failed to start). */
  text(): string {
    return this.log.text();
  }

  end(exitCode: number | null, signal: string | null): void {
    if (!this.running) return;
    this.running = false;
    this.exitCode = exitCode;
    this.signal = signal;
    this.log.close();
  }

  async read(readOptions: ReadOptions): Promise<ReadResult> {
    const r = await this.log.read(readOptions).catch((error: unknown) => {
      throw translateAgentError(error);
    });
    return {
      output: r.output,
      cursor: r.cursor,
      running: this.running,
      exitCode: this.exitCode,
      signal: this.signal,
      droppedBytes: r.droppedBytes,
      matched: r.matched,
    };
  }

  info(): ProcessInfo {
    return {
      processId: this.processId,
      name: this.name,
      command: this.command,
      pid: this.pid,
      running: this.running,
      exitCode: this.exitCode,
      signal: this.signal,
      startedAt: this.startedAt,
      outputBytes: this.log.total,
    };
  }
}

/**
 * The rules every server-side process table follows: ids, names unique among running processes,
 * lookup by id or name (the latest of that name), finished ones kept up to KEEP_EXITED, the
 * NOT_FOUND error, the stdin checks, and the listing that adds what other replicas recorded in the
 * sandbox (ProcRecords).
 */
export class ProcessTable {
  private readonly procs = new Map<string, ServerProcess>();
  private next = 1;

  /** `onForget`: called for each finished process dropped from the table (its streams can go). */
  constructor(
    private readonly records: ProcRecords,
    private readonly onForget?: (processId: string) => void,
  ) {}

  newId(): string {
    return newProcessId(this.next++);
  }

  /** The process of this id or name, if this server follows it (undefined: ask the sandbox). */
  find(idOrName: string): ServerProcess | undefined {
    return this.procs.get(idOrName) ?? [...this.procs.values()].reverse().find((q) => q.name === idOrName);
  }

  /** Refuses a second running process with the same name, like the local provider. */
  checkName(name: string | undefined): void {
    if (name && [...this.procs.values()].some((p) => p.running && p.name === name)) {
      throw new SandboxError('ALREADY_EXISTS', `a running process is already named "${name}"`, {
        hint: 'pick another name, or shell_kill the running one first',
      });
    }
  }

  add(serverProcess: ServerProcess): void {
    this.procs.set(serverProcess.processId, serverProcess);
    this.forgetOldExited();
  }

  /** Drops the oldest finished processes beyond KEEP_EXITED. */
  forgetOldExited(): void {
    const exited = [...this.procs.values()].filter((q) => !q.running);
    for (const q of exited.slice(0, Math.max(0, exited.length - KEEP_EXITED))) {
      this.procs.delete(q.processId);
      this.onForget?.(q.processId);
    }
  }

  get(idOrName: string): ServerProcess {
    const p = this.find(idOrName);
    if (!p) {
      const known = [...this.procs.keys()].join(', ') || 'none';
      throw new SandboxError('NOT_FOUND', `no process "${idOrName}" (known: ${known})`, {
        hint: 'use shell_list to see processes, or shell_start to start one',
      });
    }
    return p;
  }

  all(): ServerProcess[] {
    return [...this.procs.values()];
  }

  anyRunning(): boolean {
    return this.all().some((p) => p.running);
  }

  /** A process another replica started (or this one forgot): its record in the sandbox, or NOT_FOUND. */
  async recorded(idOrName: string): Promise<ProcRecord> {
    const rec = await this.records.find(idOrName);
    if (!rec) this.get(idOrName); // throws NOT_FOUND with the processes this server knows
    return rec!;
  }

  /** This server's processes, then those other replicas recorded (`others`: a listing of the records). */
  async list(others: Promise<ProcRecord[]> = this.records.list().catch(() => [])): Promise<ProcessInfo[]> {
    const mine = this.all().map((p) => p.info());
    const known = new Set(mine.map((p) => p.processId));
    const theirs = (await others).filter((r) => !known.has(r.processId));
    return [...mine, ...theirs.map((r) => ProcRecords.info(r))];
  }

  /** Checks before writing to a process's stdin, with the local provider's messages. */
  checkWritable(serverProcess: ServerProcess): void {
    if (!serverProcess.running)
      throw new SandboxError(
        'INVALID_ARGUMENT',
        `${serverProcess.processId} has exited (code ${serverProcess.exitCode ?? serverProcess.signal})`,
        { hint: 'start it again with shell_start' },
      );
    if (serverProcess.stdinClosed)
      throw new SandboxError('INVALID_ARGUMENT', `stdin of ${serverProcess.processId} was already closed`, {
        hint: 'start a new process to send more input',
      });
  }
}
