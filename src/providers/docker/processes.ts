import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { SandboxError } from '../../errors.js';
import { ProcRecords } from '../shared/proc-records.js';
import { ProcessTable, ServerProcess } from '../shared/process-table.js';
import type { ProcessApi, ProcessInfo, ReadOptions, ReadResult, SpawnOptions } from '../types.js';
import { execStartFailed } from './errors.js';
import { newToken, signalFromStatus, type ContainerExec } from './exec.js';
import { EndLines, StderrFramer, TOKEN_ENV, TrailerScanner, wrapperCmd, type FrameHeader } from './framing.js';

/** Input a process has not read yet, held for it at most (a process that never reads would grow it forever). */
const MAX_PENDING_INPUT = 16 * 1024 * 1024;
const HEADER_TIMEOUT_MS = 30_000;
/** How long one listing of the records in the container answers shell_list and lookups (others' processes only). */
const OTHERS_TTL_MS = 1000;

/** What docker adds to a process the table follows: the exec, its hijacked stream and its kill token. */
interface DockerProc {
  proc: ServerProcess;
  token: string;
  exec: Dockerode.Exec;
  stream: Duplex;
  lastSignal?: string;
}

/**
 * Background processes of one container. Each is an exec whose hijacked stream the server keeps: its
 * stdin is the stream's write side, its output (stdout and stderr interleaved) is buffered here with
 * byte cursors, like the local agent's process table. Each is also recorded in the container
 * (ProcRecords, with its kill token), where a replica that did not start it reads, kills and lists it.
 */
export class DockerProcesses implements ProcessApi {
  private readonly table: ProcessTable;
  private readonly procs = new Map<string, DockerProc>();
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
    this.table = new ProcessTable(this.records, (processId) => {
      this.procs.get(processId)?.stream.destroy();
      this.procs.delete(processId);
    });
  }

  async spawn(command: string, opts: SpawnOptions): Promise<ProcessInfo> {
    this.table.checkName(opts.name);
    const token = newToken();
    const processId = this.table.newId();
    // exec: proc.sh takes the place of the wrapper's inner shell (one process less against the pids limit).
    const recorded = `exec ${this.records.wrap(processId, command, opts.name, token)}`;
    const { exec, stream } = await this.runner.start(wrapperCmd(opts.cwd ?? this.runner.workdir, recorded, opts.env), {
      env: { [TOKEN_ENV]: token },
      stdin: true,
    });
    const p: DockerProc = { proc: new ServerProcess(processId, command, -1, opts.name), token, exec, stream };
    const header = new Promise<FrameHeader | undefined>((resolve) => {
      // Closing the log at the exit line alone would lose output still on its way (EndLines).
      const ends = new EndLines((status) => this.onExit(p, status));
      const framer = new StderrFramer(token, {
        header: resolve,
        data: (b) => p.proc.append(b),
        exit: (code) => ends.exit(code),
      });
      const stdout = new TrailerScanner(token, 'out', {
        data: (b) => p.proc.append(b),
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
            else if (p.proc.running) this.onExit(p, await this.runner.exitCode(exec).catch(() => null), true);
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
      throw execStartFailed(p.proc.text());
    }
    p.proc.pid = h.pid;
    this.procs.set(processId, p);
    this.table.add(p.proc);
    return p.proc.info();
  }

  /** `wrapperDied`: no exit line came, so the status is the engine's (128+n after our signal). */
  private onExit(dockerProc: DockerProc, status: number | null, wrapperDied = false): void {
    if (!dockerProc.proc.running) return;
    const { lastSignal } = dockerProc;
    const signal = signalFromStatus(status, lastSignal) ?? (wrapperDied && lastSignal ? lastSignal : null);
    dockerProc.proc.end(signal ? null : status, signal);
    this.table.forgetOldExited();
  }

  async read(processId: string, readOptions: ReadOptions): Promise<ReadResult> {
    const p = this.table.find(processId);
    if (!p) return this.records.read((await this.table.recorded(processId)).processId, readOptions);
    return p.read(readOptions);
  }

  async write(processId: string, input: string, close: boolean): Promise<void> {
    const proc = this.table.find(processId) ?? (await this.stdinElsewhere(processId));
    this.table.checkWritable(proc);
    const p = this.procs.get(proc.processId)!;
    if (input) {
      const pending = p.stream.writableLength;
      if (pending + Buffer.byteLength(input) > MAX_PENDING_INPUT) {
        throw new SandboxError(
          'LIMIT_EXCEEDED',
          `${proc.processId} is not reading its input: ${pending} bytes sent earlier are still waiting`,
          { hint: 'see what it is doing with shell_read, or stop it with shell_kill' },
        );
      }
      p.stream.write(input);
    }
    if (close) {
      proc.stdinClosed = true;
      p.stream.end();
    }
  }

  /** Its stdin is the exec stream of the replica that started it: no other server can write to it. */
  private async stdinElsewhere(idOrName: string): Promise<never> {
    const rec = await this.table.recorded(idOrName);
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
    const proc = this.table.find(processId);
    if (proc) {
      const p = this.procs.get(proc.processId)!;
      if (proc.running) {
        p.lastSignal = signal;
        await Promise.all([
          this.records.mark(proc.processId, signal).catch(() => undefined),
          this.runner.kill(p.token, signal, proc.pid > 1 ? proc.pid : 0),
        ]);
      }
      return proc.info();
    }
    const rec = await this.table.recorded(processId);
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
  list(): Promise<ProcessInfo[]> {
    return this.table.list(this.othersRecords());
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
      p.proc.end(null, 'SIGKILL');
    }
  }
}
