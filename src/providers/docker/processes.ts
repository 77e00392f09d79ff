import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { SandboxError } from '../../errors.js';
import { translateAgentError } from '../shared/agent-errors.js';
import { newProcessId, ProcRecords } from '../shared/proc-records.js';
import { OutputLog } from '../../agent/output-log.js';
import type { ProcessApi, ProcessInfo, ReadOptions, ReadResult, SpawnOptions } from '../types.js';
import { execStartFailed } from './errors.js';
import { newToken, signalFromStatus, type ContainerExec } from './exec.js';
import { EndLines, StderrFramer, TOKEN_ENV, TrailerScanner, wrapperCmd, type FrameHeader } from './framing.js';

/** Input a process has not read yet, held for it at most (a process that never reads would grow it forever). */
const MAX_PENDING_INPUT = 16 * 1024 * 1024;

/** Finished processes kept for shell_read/shell_list before the oldest are forgotten. */
const KEEP_EXITED = 64;
const HEADER_TIMEOUT_MS = 30_000;
/** How long one listing of the records in the container answers shell_list and lookups (others' processes only). */
const OTHERS_TTL_MS = 1000;

interface Proc {
  processId: string;
  name?: string;
  command: string;
  token: string;
  pid: number;
  exec: Dockerode.Exec;
  stream: Duplex;
  startedAt: string;
  log: OutputLog;
  exitCode: number | null;
  signal: string | null;
  running: boolean;
  stdinClosed: boolean;
  lastSignal?: string;
}

/**
 * Background processes of one container. Each is an exec whose hijacked stream the server keeps: its
 * stdin is the stream's write side, its output (stdout and stderr interleaved) is buffered here with
 * byte cursors, like the local agent's process table. Each is also recorded in the container
 * (ProcRecords, with its kill token), where a replica that did not start it reads, kills and lists it.
 */
export class DockerProcesses implements ProcessApi {
  private procs = new Map<string, Proc>();
  private next = 1;
  private readonly records: ProcRecords;
  private listing?: { at: number; records: ReturnType<ProcRecords['list']> };

  constructor(
    private readonly runner: ContainerExec,
    sandboxId: string,
  ) {
    this.records = new ProcRecords(sandboxId, async (command) => {
      const r = await runner.helper(command, [], { timeoutMs: 30_000 });
      return { stdout: r.stdout.toString('utf8'), exitCode: r.exitCode ?? -1 };
    });
  }

  /** A process another replica started (or this one forgot): its record in the container. */
  private async elsewhere(idOrName: string) {
    const rec = await this.records.find(idOrName);
    if (!rec) this.get(idOrName); // throws NOT_FOUND with the processes this server knows
    return rec!;
  }

  async spawn(command: string, opts: SpawnOptions): Promise<ProcessInfo> {
    if (opts.name && [...this.procs.values()].some((p) => p.running && p.name === opts.name)) {
      throw new SandboxError('ALREADY_EXISTS', `a running process is already named "${opts.name}"`, {
        hint: 'pick another name, or shell_kill the running one first',
      });
    }
    const token = newToken();
    const processId = newProcessId(this.next++);
    // exec: proc.sh takes the place of the wrapper's inner shell (one process less against the pids limit).
    const recorded = `exec ${this.records.wrap(processId, command, opts.name, token)}`;
    const { exec, stream } = await this.runner.start(wrapperCmd(opts.cwd ?? this.runner.workdir, recorded, opts.env), {
      env: { [TOKEN_ENV]: token },
      stdin: true,
    });
    const p: Proc = {
      processId,
      name: opts.name,
      command,
      token,
      pid: -1,
      exec,
      stream,
      startedAt: new Date().toISOString(),
      log: new OutputLog(),
      exitCode: null,
      signal: null,
      running: true,
      stdinClosed: false,
    };
    const header = new Promise<FrameHeader | undefined>((resolve) => {
      // Closing the log at the exit line alone would lose output still on its way (EndLines).
      const ends = new EndLines((status) => this.onExit(p, status));
      const framer = new StderrFramer(token, {
        header: resolve,
        data: (b) => p.log.append(b),
        exit: (code) => ends.exit(code),
      });
      const stdout = new TrailerScanner(token, 'out', {
        data: (b) => p.log.append(b),
        trailer: () => ends.stdoutEnded(),
      });
      this.runner
        .demux(
          stream,
          (b) => stdout.push(b),
          (b) => framer.push(b),
        )
        .then(
          async () => {
            stdout.flush();
            framer.flush();
            resolve(undefined);
            if (ends.status !== undefined) this.onExit(p, ends.status);
            else if (p.running) this.onExit(p, await this.runner.exitCode(exec).catch(() => null), true);
          },
          () => undefined,
        );
      setTimeout(() => resolve(undefined), HEADER_TIMEOUT_MS).unref();
    });
    const h = await header;
    if (h === 'nocwd') {
      throw new SandboxError('INVALID_ARGUMENT', `cwd ${opts.cwd} is not an existing directory`, {
        hint: 'pass an existing directory (relative paths start at the workdir), or create it first with mkdir -p',
      });
    }
    if (!h) {
      stream.destroy();
      throw execStartFailed(p.log.text());
    }
    p.pid = h.pid;
    this.procs.set(p.processId, p);
    return this.info(p);
  }

  /** `wrapperDied`: no exit line came, so the status is the engine's (128+n after our signal). */
  private onExit(proc: Proc, status: number | null, wrapperDied = false): void {
    if (!proc.running) return;
    proc.running = false;
    const signal =
      signalFromStatus(status, proc.lastSignal) ?? (wrapperDied && proc.lastSignal ? proc.lastSignal : null);
    proc.signal = signal;
    proc.exitCode = signal ? null : status;
    proc.log.close();
    this.forgetOldExited();
  }

  async read(processId: string, readOptions: ReadOptions): Promise<ReadResult> {
    const p = this.find(processId);
    if (!p) return this.records.read((await this.elsewhere(processId)).processId, readOptions);
    const r = await p.log.read(readOptions).catch((error: unknown) => {
      throw translateAgentError(error);
    });
    return {
      output: r.output,
      cursor: r.cursor,
      running: p.running,
      exitCode: p.exitCode,
      signal: p.signal,
      droppedBytes: r.droppedBytes,
      matched: r.matched,
    };
  }

  async write(processId: string, input: string, close: boolean): Promise<void> {
    const p = this.find(processId) ?? (await this.stdinElsewhere(processId));
    if (!p.running)
      throw new SandboxError('INVALID_ARGUMENT', `${p.processId} has exited (code ${p.exitCode ?? p.signal})`, {
        hint: 'start it again with shell_start',
      });
    if (p.stdinClosed)
      throw new SandboxError('INVALID_ARGUMENT', `stdin of ${p.processId} was already closed`, {
        hint: 'start a new process to send more input',
      });
    if (input) {
      const pending = p.stream.writableLength;
      if (pending + Buffer.byteLength(input) > MAX_PENDING_INPUT) {
        throw new SandboxError(
          'LIMIT_EXCEEDED',
          `${p.processId} is not reading its input: ${pending} bytes sent earlier are still waiting`,
          { hint: 'see what it is doing with shell_read, or stop it with shell_kill' },
        );
      }
      p.stream.write(input);
    }
    if (close) {
      p.stdinClosed = true;
      p.stream.end();
    }
  }

  /** Its stdin is the exec stream of the replica that started it: no other server can write to it. */
  private async stdinElsewhere(idOrName: string): Promise<never> {
    const rec = await this.elsewhere(idOrName);
    if (!rec.running)
      throw new SandboxError('INVALID_ARGUMENT', `${rec.processId} has exited (code ${rec.exitCode ?? rec.signal})`, {
        hint: 'start it again with shell_start',
      });
    const why = `${rec.processId} was started through another server replica, and on docker only that replica holds its stdin`;
    const hint =
      'give the process its input in the command (a file or a here-document), or route this sandbox to one replica';
    throw new SandboxError('UNSUPPORTED', why, { hint });
  }

  /** The signal is recorded first, so every replica reports it; the kill token reaches the whole tree. */
  async kill(processId: string, signal: string): Promise<ProcessInfo> {
    const p = this.find(processId);
    if (p) {
      if (p.running) {
        p.lastSignal = signal;
        await Promise.all([
          this.records.mark(p.processId, signal).catch(() => undefined),
          this.runner.kill(p.token, signal, p.pid > 1 ? p.pid : 0),
        ]);
      }
      return this.info(p);
    }
    const rec = await this.elsewhere(processId);
    if (!rec.running) return ProcRecords.info(rec);
    await this.records.mark(rec.processId, signal);
    if (rec.token) await this.runner.kill(rec.token, signal);
    else await this.records.kill(rec.processId, signal);
    return ProcRecords.info((await this.records.find(rec.processId)) ?? rec);
  }

  killAll(): Promise<number> {
    return this.runner.killAll();
  }

  /** This server's processes, and those other replicas started in the container. */
  async list(): Promise<ProcessInfo[]> {
    const mine = [...this.procs.values()].map((p) => this.info(p));
    const known = new Set(mine.map((p) => p.processId));
    const others = (await this.othersRecords()).filter((r) => !known.has(r.processId));
    return [...mine, ...others.map((r) => ProcRecords.info(r))];
  }

  /** One listing of the records shared within OTHERS_TTL_MS: tools list to find one process, and it forks per record. */
  private othersRecords(): ReturnType<ProcRecords['list']> {
    if (!this.listing || Date.now() - this.listing.at > OTHERS_TTL_MS) {
      this.listing = { at: Date.now(), records: this.records.list().catch(() => []) };
    }
    return this.listing.records;
  }

  /** The container is going away: drop the streams (its processes die with it). */
  closeAll(): void {
    for (const p of this.procs.values()) {
      p.stream.destroy();
      if (p.running) {
        p.running = false;
        p.signal = 'SIGKILL';
        p.log.close();
      }
    }
  }

  private find(idOrName: string): Proc | undefined {
    return this.procs.get(idOrName) ?? [...this.procs.values()].reverse().find((q) => q.name === idOrName);
  }

  private get(idOrName: string): Proc {
    const p = this.find(idOrName);
    if (!p) {
      const known = [...this.procs.keys()].join(', ') || 'none';
      throw new SandboxError('NOT_FOUND', `no process "${idOrName}" (known: ${known})`, {
        hint: 'use shell_list to see processes, or shell_start to start one',
      });
    }
    return p;
  }

  private forgetOldExited(): void {
    const exited = [...this.procs.values()].filter((q) => !q.running);
    for (const q of exited.slice(0, Math.max(0, exited.length - KEEP_EXITED))) {
      q.stream.destroy();
      this.procs.delete(q.processId);
    }
  }

  private info(proc: Proc): ProcessInfo {
    return {
      processId: proc.processId,
      name: proc.name,
      command: proc.command,
      pid: proc.pid,
      running: proc.running,
      exitCode: proc.exitCode,
      signal: proc.signal,
      startedAt: proc.startedAt,
      outputBytes: proc.log.total,
    };
  }
}
