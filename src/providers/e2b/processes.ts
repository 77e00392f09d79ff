import { CommandExitError, type CommandHandle, type Sandbox as Vendor } from 'e2b';
import type { Logger } from '../../logger.js';
import { RemoteProcess, RemoteProcessTable, signalNumber, treeSignalScript } from '../shared/remote-processes.js';
import type { ProcessApi, ProcessInfo, ReadOptions, ReadResult, SpawnOptions } from '../types.js';

type Call = <T>(what: string, fn: () => Promise<T>, opts?: { retry?: boolean }) => Promise<T>;

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
 * would kill a dev server), their output streamed into a RemoteProcess so reads have cursors.
 */
export class E2BProcesses implements ProcessApi {
  private readonly table = new RemoteProcessTable();
  private readonly handles = new Map<string, CommandHandle>();

  constructor(
    private readonly vendor: Vendor,
    private readonly prepare: (cwd: string | undefined) => Promise<string>,
    private readonly call: Call,
    private readonly log: Logger,
  ) {}

  async spawn(command: string, opts: SpawnOptions): Promise<ProcessInfo> {
    this.table.checkName(opts.name);
    const cwd = await this.prepare(opts.cwd);
    const id = this.table.newId();
    let proc: RemoteProcess | undefined;
    const early: string[] = [];
    const sink = (d: string): void => {
      if (proc) proc.append(d);
      else early.push(d);
    };
    const handle = await this.call(
      `start ${id}`,
      () =>
        this.vendor.commands.run(command, {
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
    proc = new RemoteProcess(id, command, handle.pid, opts.name);
    for (const d of early) proc.append(d);
    this.table.add(proc);
    this.handles.set(id, handle);
    const p = proc;
    handle
      .wait()
      .then(
        () => p.end(0, null),
        (e: unknown) => {
          if (e instanceof CommandExitError) {
            const signal = signalFromError(e.error);
            p.end(signal ? null : e.exitCode, signal);
          } else {
            this.log.debug(
              { processId: id, err: (e as Error).message },
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
    return this.table.get(processId).read(opts);
  }

  async write(processId: string, input: string, close: boolean): Promise<void> {
    const p = this.table.get(processId);
    this.table.checkWritable(p);
    if (input)
      await this.call(`stdin ${processId}`, () => this.vendor.commands.sendStdin(p.pid, input), { retry: false });
    if (close) {
      await this.call(`close stdin ${processId}`, () => this.vendor.commands.closeStdin(p.pid), { retry: false });
      p.stdinClosed = true;
    }
  }

  async kill(processId: string, signal: string): Promise<ProcessInfo> {
    const p = this.table.get(processId);
    if (p.running) await signalTree(this.vendor, this.call, p.pid, signalNumber(signal));
    return p.info();
  }

  async list(): Promise<ProcessInfo[]> {
    return this.table.all().map((p) => p.info());
  }

  anyRunning(): boolean {
    return this.table.all().some((p) => p.running);
  }

  /** Stops streaming (the sandbox is going away). */
  detachAll(): void {
    for (const h of this.handles.values()) void h.disconnect().catch(() => undefined);
    for (const p of this.table.all()) p.end(p.exitCode, p.signal ?? (p.running ? 'SIGKILL' : null));
  }
}

/** E2B's kill signals only the pid it started; this reaches every descendant. */
export async function signalTree(vendor: Vendor, call: Call, pid: number, sig: number): Promise<void> {
  await call(`signal ${pid}`, () => vendor.commands.run(treeSignalScript(pid, sig), { timeoutMs: 15_000 }), {
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
