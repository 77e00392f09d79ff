import { randomBytes } from 'node:crypto';
import type { Sandbox as Vendor } from '@daytonaio/sdk';
import { SandboxError } from '../../errors.js';
import { shellQuote as q, signalNumber, treeSignalCommand } from '../shared/remote-processes.js';
import { ProcessTable, ServerProcess } from '../shared/process-table.js';
import type { ProcessApi, ProcessInfo, ReadOptions, ReadResult, SpawnOptions } from '../types.js';
import { ProcRecords } from '../shared/proc-records.js';
import { scriptFile } from '../shared/script-file.js';
import type { VendorCall } from '../shared/remote-sandbox.js';

/** Daytona's call options: retry, and which API a failure came from (errors.ts words it by scope). */
export type DaytonaCallOptions = { retry?: boolean; scope?: 'api' | 'toolbox' };
export type Call = VendorCall<DaytonaCallOptions>;

/** What scripts/wrap.sh prints (exit 97) when the cwd does not exist: one round trip instead of two. */
export const NO_CWD = 'sandbox-mcp: no such working directory';
const POLL_MS = 250;
/** What one poll takes from a process's record once its Daytona log is past the response cap. */
const RECORD_PIECE_BYTES = 1 << 20;
const RECORD_PIECES_PER_POLL = 8;

export function tmpName(kind: string): string {
  return `/tmp/.sandbox-mcp-${randomBytes(8).toString('hex')}.${kind}`;
}

/**
 * Every command runs under scripts/wrap.sh, never sourced into the session's own shell: there an
 * `exit` would kill the session, a bare `wait` would hang and an async command would block the next.
 * The wrapper records its pid (for killing the tree later), checks the cwd (printing NO_CWD, exit 97),
 * sets the env, and runs the user's command as a child so it can clean up after it.
 */
const wrapScript = scriptFile(new URL('./scripts/wrap.sh', import.meta.url));

export function wrapCommand(
  command: string,
  options: { cwd: string; env?: Record<string, string>; pidFile: string; stdinFile?: string | null },
): string {
  const assignments = Object.entries(options.env ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw new SandboxError('INVALID_ARGUMENT', `invalid environment variable name ${JSON.stringify(k)}`, {
        hint: 'use letters, digits and underscores, not starting with a digit',
      });
    return `${k}=${v}`;
  });
  const stdin = options.stdinFile === undefined ? '' : (options.stdinFile ?? '/dev/null');
  const args = [options.pidFile, options.cwd, stdin, command, ...assignments];
  return `bash -c ${q(wrapScript())} wrap ${args.map(q).join(' ')}`;
}

interface DaytonaProc {
  proc: ServerProcess;
  sessionId: string;
  cmdId: string;
  pidFile: string;
  seen: number;
  /** Daytona's log of it has passed the response cap: its output is read from its record instead. */
  logTooLarge?: boolean;
}

/**
 * Background processes on Daytona: one session each, the command started async; output and exit
 * status are fetched from the session logs when someone reads (Daytona streams logs only over a
 * WebSocket; polling keeps the adapter to plain HTTP). Each is recorded in the sandbox too
 * (ProcRecords), where another replica's server reads, signals and lists it.
 */
export class DaytonaProcesses implements ProcessApi {
  private readonly table: ProcessTable;
  private readonly procs = new Map<string, DaytonaProc>();
  private readonly records: ProcRecords;

  constructor(
    private readonly vendor: Vendor,
    private readonly prepare: (cwd: string | undefined) => Promise<string>,
    private readonly call: Call,
  ) {
    this.records = new ProcRecords(vendor.id, async (command) => {
      const r = await call('process record', () => vendor.process.executeCommand(command, undefined, undefined, 30), {
        scope: 'toolbox',
      });
      return { stdout: r.result ?? '', exitCode: r.exitCode };
    });
    this.table = new ProcessTable(this.records);
  }

  async spawn(command: string, opts: SpawnOptions): Promise<ProcessInfo> {
    this.table.checkName(opts.name);
    const cwd = await this.prepare(opts.cwd);
    const id = this.table.newId();
    const sessionId = sessionOf(id);
    const pidFile = tmpName('pid');
    const wrapped = wrapCommand(this.records.wrap(id, command, opts.name), { cwd, env: opts.env, pidFile });
    await this.call('create session', () => this.vendor.process.createSession(sessionId), {
      retry: false,
      scope: 'toolbox',
    });
    const r = await this.call(
      'start process',
      () =>
        this.vendor.process.executeSessionCommand(sessionId, {
          command: wrapped,
          runAsync: true,
          suppressInputEcho: true,
        }),
      { retry: false, scope: 'toolbox' },
    );
    const proc = new ServerProcess(id, command, -1, opts.name);
    this.table.add(proc);
    const dp: DaytonaProc = { proc, sessionId, cmdId: r.cmdId, pidFile, seen: 0 };
    this.procs.set(id, dp);
    return proc.info();
  }

  /** Fetches new output and the exit status from Daytona. */
  private async sync(daytonaProc: DaytonaProc): Promise<void> {
    if (!daytonaProc.proc.running) return;
    const [cmd] = await Promise.all([
      this.call(
        'process status',
        () => this.vendor.process.getSessionCommand(daytonaProc.sessionId, daytonaProc.cmdId),
        {
          scope: 'toolbox',
        },
      ),
      this.syncOutput(daytonaProc),
    ]);
    if (cmd.exitCode !== undefined && cmd.exitCode !== null) {
      // bash reports a death by signal N as 128+N.
      const code = cmd.exitCode;
      daytonaProc.proc.end(
        code > 128 && code < 160 ? null : code,
        code > 128 && code < 160 ? signalName(code - 128) : null,
      );
    }
  }

  /**
   * New output from Daytona's session log, which comes whole on every call. Once that is over the
   * response cap, the new bytes come from the process's record in the sandbox (the same bytes: one
   * tee), a piece per call.
   */
  private async syncOutput(daytonaProc: DaytonaProc): Promise<void> {
    if (!daytonaProc.logTooLarge) {
      const logs = await this.call(
        'process output',
        () => this.vendor.process.getSessionCommandLogs(daytonaProc.sessionId, daytonaProc.cmdId),
        { scope: 'toolbox' },
      ).catch((error: unknown) => {
        if (!(error instanceof SandboxError && error.code === 'LIMIT_EXCEEDED')) throw error;
        daytonaProc.logTooLarge = true;
        return undefined;
      });
      if (logs) {
        const all = Buffer.from(logs.output || (logs.stdout ?? '') + (logs.stderr ?? ''));
        if (all.length > daytonaProc.seen) {
          daytonaProc.proc.append(all.subarray(daytonaProc.seen));
          daytonaProc.seen = all.length;
        }
        return;
      }
    }
    for (let pieces = 0; pieces < RECORD_PIECES_PER_POLL; pieces++) {
      const piece = await this.records.read(daytonaProc.proc.processId, {
        cursor: daytonaProc.seen,
        maxBytes: RECORD_PIECE_BYTES,
      });
      const taken = piece.cursor - daytonaProc.seen;
      if (taken <= 0) return;
      daytonaProc.proc.append(Buffer.from(piece.output));
      daytonaProc.seen = piece.cursor;
      // A piece shorter than asked (less a split character) was the end of what there is for now.
      if (taken < RECORD_PIECE_BYTES - 4) return;
    }
  }

  async read(processId: string, opts: ReadOptions): Promise<ReadResult> {
    const p = this.table.find(processId);
    if (!p) return this.records.read((await this.table.recorded(processId)).processId, opts);
    const dp = this.procs.get(p.processId)!;
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      await this.sync(dp);
      const r = await p.read({ ...opts, waitMs: 0 });
      const done = opts.until ? r.matched : r.output.length > 0;
      if (done || !r.running || Date.now() + POLL_MS > deadline) return r;
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
  }

  async write(processId: string, input: string, close: boolean): Promise<void> {
    const p = this.table.find(processId);
    const dp = p && this.procs.get(p.processId)!;
    if (p && dp) {
      await this.sync(dp).catch(() => undefined);
      this.table.checkWritable(p);
    }
    const target = dp ?? (await this.theirs(processId));
    if (close) {
      throw new SandboxError('UNSUPPORTED', 'Daytona cannot close the stdin of a running command', {
        hint: 'send the input without close, or have the program stop on its own input (e.g. a "quit" line)',
      });
    }
    if (input)
      await this.call(
        'send input',
        () => this.vendor.process.sendSessionCommandInput(target.sessionId, target.cmdId, input),
        {
          retry: false,
          scope: 'toolbox',
        },
      );
  }

  /** The Daytona session command of a process another replica started (its stdin is Daytona's). */
  private async theirs(idOrName: string): Promise<{ sessionId: string; cmdId: string }> {
    const rec = await this.table.recorded(idOrName);
    const sessionId = sessionOf(rec.processId);
    const session = rec.running
      ? await this.call('find process', () => this.vendor.process.getSession(sessionId), { scope: 'toolbox' })
      : undefined;
    const cmdId = session?.commands?.[0]?.id;
    if (!cmdId)
      throw new SandboxError('INVALID_ARGUMENT', `${rec.processId} has exited (code ${rec.exitCode ?? rec.signal})`, {
        hint: 'start it again with shell_start',
      });
    return { sessionId, cmdId };
  }

  async kill(processId: string, signal: string): Promise<ProcessInfo> {
    const p = this.table.find(processId);
    if (!p) {
      const rec = await this.table.recorded(processId);
      await this.records.kill(rec.processId, signal);
      return ProcRecords.info(await this.table.recorded(rec.processId));
    }
    const dp = this.procs.get(p.processId)!;
    if (p.running) await signalTree(this.vendor, this.call, dp.pidFile, signalNumber(signal));
    return p.info();
  }

  /** This server's processes, and those other replicas started in the sandbox. */
  async list(): Promise<ProcessInfo[]> {
    await Promise.all([...this.procs.values()].map((dp) => this.sync(dp).catch(() => undefined)));
    return this.table.list();
  }

  anyRunning(): boolean {
    return this.table.anyRunning();
  }

  /** The sandbox is going away: nothing more will be read. */
  detachAll(): void {
    for (const dp of this.procs.values())
      dp.proc.end(dp.proc.exitCode, dp.proc.signal ?? (dp.proc.running ? 'SIGKILL' : null));
  }
}

/** Daytona signals nothing but whole sessions; this reaches a process (its pid in `pidFile`) and all its descendants. */
export async function signalTree(vendor: Vendor, call: Call, pidFile: string, sig: number): Promise<void> {
  const command = treeSignalCommand(sig, { pidFile });
  await call('signal process', () => vendor.process.executeCommand(command, undefined, undefined, 15), {
    retry: false,
    scope: 'toolbox',
  }).catch(() => undefined);
}

/** One Daytona session per process, named after it: any replica finds it from the processId. */
function sessionOf(processId: string): string {
  return `sandbox-mcp-${processId}`;
}

function signalName(count: number): string {
  const names: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 9: 'SIGKILL', 15: 'SIGTERM' };
  return names[count] ?? `SIG${count}`;
}
