import { CommandExitError, type CommandHandle, type Sandbox as Vendor } from 'e2b';
import { SandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { ProcRecords } from '../shared/proc-records.js';
import { ProcessTable, ServerProcess } from '../shared/process-table.js';
import { treeSignalCommand } from '../shared/remote-processes.js';
import type { ProcessApi, ProcessInfo, ReadOptions, ReadResult, SpawnOptions } from '../types.js';
import type { VendorCall } from '../shared/remote-sandbox.js';

/** E2B's calls take `{ retry }` only (the default VendorCall options). */
type Call = VendorCall;

/** "signal: killed" (envd's wording, from Go's os.ProcessState) as a signal name. */
export function signalFromError(error: string | undefined): string | null {
  const m = /signal: (\w+)/.exec(error ?? '');
  if (!m) return null;
  const names: Record<string, string> = {
    killed: 'SIGKILL',
    terminated: 'SIGTERM',
    interrupt: 'SIGINT',
    hangup: 'SIGHUP',
    quit: 'SIGQUIT',
  };
  return names[m[1]!] ?? `SIG${m[1]!.toUpperCase()}`;
}

/**
 * Background processes on E2B: started with stdin open and no command timeout (E2B's default 60 s
 * would kill a dev server), their output streamed into a ServerProcess so reads have cursors, and
 * recorded in the sandbox (ProcRecords), where another replica's server reads, signals and lists them.
 */
export class E2BProcesses implements ProcessApi {
  private readonly table: ProcessTable;
  private readonly handles = new Map<string, CommandHandle>();
  private readonly records: ProcRecords;

  constructor(
    private readonly vendor: Vendor,
    private readonly prepare: (cwd: string | undefined) => Promise<string>,
    private readonly call: Call,
    private readonly log: Logger,
  ) {
    this.records = new ProcRecords(vendor.sandboxId, (command) =>
      call('process record', () =>
        vendor.commands.run(command, { timeoutMs: 30_000 }).catch((error: unknown) => {
          if (error instanceof CommandExitError) return error;
          throw error;
        }),
      ),
    );
    this.table = new ProcessTable(this.records);
  }

  async spawn(command: string, opts: SpawnOptions): Promise<ProcessInfo> {
    this.table.checkName(opts.name);
    const cwd = await this.prepare(opts.cwd);
    const id = this.table.newId();
    let proc: ServerProcess | undefined;
    const early: string[] = [];
    const sink = (chunk: string): void => {
      if (proc) proc.append(chunk);
      else early.push(chunk);
    };
    const handle = await this.call(
      `start ${id}`,
      () =>
        this.vendor.commands.run(this.records.wrap(id, command, opts.name), {
          background: true,
          stdin: true,
          cwd,
          envs: opts.env,
          timeoutMs: 0,
          onStdout: sink,
          onStderr: sink,
        }),
      { retry: false },
    );
    discardAccumulatedOutput(handle);
    proc = new ServerProcess(id, command, handle.pid, opts.name);
    for (const d of early) proc.append(d);
    this.table.add(proc);
    this.handles.set(id, handle);
    const p = proc;
    handle
      .wait()
      .then(
        () => p.end(0, null),
        (runError: unknown) => {
          if (runError instanceof CommandExitError) {
            const signal = signalFromError(runError.error);
            p.end(signal ? null : runError.exitCode, signal);
          } else {
            this.log.debug(
              { processId: id, err: (runError as Error).message },
              'lost the output stream of a background process',
            );
            p.end(null, null);
          }
        },
      )
      .finally(() => this.handles.delete(id));
    return p.info();
  }

  async read(processId: string, opts: ReadOptions): Promise<ReadResult> {
    const p = this.table.find(processId);
    if (p) return p.read(opts);
    return this.records.read((await this.table.recorded(processId)).processId, opts);
  }

  async write(processId: string, input: string, close: boolean): Promise<void> {
    const p = this.table.find(processId);
    if (p) this.table.checkWritable(p);
    const pid = p?.pid ?? (await this.envdPid(processId));
    if (input)
      await this.call(`stdin ${processId}`, () => this.vendor.commands.sendStdin(pid, input), { retry: false });
    if (close) {
      await this.call(`close stdin ${processId}`, () => this.vendor.commands.closeStdin(pid), { retry: false });
      if (p) p.stdinClosed = true;
    }
  }

  /** The pid E2B knows a process of another replica by (its stdin is E2B's): found in E2B's own list. */
  private async envdPid(idOrName: string): Promise<number> {
    const rec = await this.table.recorded(idOrName);
    const running = rec.running ? await this.call('list processes', () => this.vendor.commands.list()) : [];
    const found = running.find((c) => [c.cmd, ...c.args].some((a) => a.includes(rec.processId)));
    if (!found)
      throw new SandboxError('INVALID_ARGUMENT', `${rec.processId} has exited (code ${rec.exitCode ?? rec.signal})`, {
        hint: 'start it again with shell_start',
      });
    return found.pid;
  }

  async kill(processId: string, signal: string): Promise<ProcessInfo> {
    const p = this.table.find(processId);
    const id = p?.processId ?? (await this.table.recorded(processId)).processId;
    if (!p || p.running) await this.records.kill(id, signal);
    return p?.info() ?? ProcRecords.info(await this.table.recorded(id));
  }

  /** This server's processes, and those other replicas started in the sandbox. */
  list(): Promise<ProcessInfo[]> {
    return this.table.list();
  }

  anyRunning(): boolean {
    return this.table.anyRunning();
  }

  /** Stops streaming (the sandbox is going away). */
  detachAll(): void {
    for (const h of this.handles.values()) void h.disconnect().catch(() => undefined);
    for (const p of this.table.all()) p.end(p.exitCode, p.signal ?? (p.running ? 'SIGKILL' : null));
  }
}

/** E2B's kill signals only the pid it started; this reaches every descendant. */
export async function signalTree(vendor: Vendor, call: Call, pid: number, sig: number): Promise<void> {
  await call(`signal ${pid}`, () => vendor.commands.run(treeSignalCommand(sig, { pid }), { timeoutMs: 15_000 }), {
    retry: false,
  }).catch(() => undefined);
}

/**
 * The e2b SDK's CommandHandle appends every byte a command prints to strings of its own (`_stdout`,
 * `_stderr`, for its result object), which this adapter never reads: output reaches onStdout and
 * onStderr and is kept head-and-tail (exec) or in an OutputLog (background). A command printing
 * without end (a dev server over days, `yes`) would grow them until the server runs out of memory,
 * so they are made sinks. Checked against e2b 2.51; should an SDK drop the fields, this does nothing.
 */
export function discardAccumulatedOutput(handle: CommandHandle): void {
  for (const field of ['_stdout', '_stderr']) {
    if (Object.hasOwn(handle, field))
      Object.defineProperty(handle, field, { get: () => '', set: () => undefined, configurable: true });
  }
}
