import type { Daytona, Sandbox as Vendor } from '@daytonaio/sdk';
import { resolvePath } from '../shared/paths.js';
import { ExecDeadline, execResult, outputCaptures } from '../shared/remote-exec.js';
import { noSuchDirectory, RemoteSandbox, type RemoteSandboxDeps } from '../shared/remote-sandbox.js';
import type { ExecOptions, ExecResult } from '../types.js';
import { DaytonaFiles } from './files.js';
import { DaytonaProcesses, NO_CWD, signalTree, tmpName, wrapCommand, type DaytonaCallOptions } from './processes.js';

export interface DaytonaSandboxDeps extends RemoteSandboxDeps<DaytonaCallOptions> {
  daytona: Daytona;
  /** Daytona's auto-stop interval (0: off): activity must be refreshed within it. */
  autoStopMs: number;
}

/** One Daytona sandbox behind the project's Sandbox interface (what all cloud sandboxes share: RemoteSandbox). */
export class DaytonaSandbox extends RemoteSandbox<DaytonaCallOptions> {
  readonly provider = 'daytona' as const;
  readonly files: DaytonaFiles;
  readonly processes: DaytonaProcesses;
  protected readonly chromiumInstallHint =
    'use a Daytona snapshot whose image has Chromium on its PATH (e.g. built from a Dockerfile with RUN apt-get install -y --no-install-recommends chromium) and set DAYTONA_SNAPSHOT to it';
  /** Idle exec sessions: a command blocks its session, so concurrent execs each get their own. */
  private freeSessions: string[] = [];
  private nextSession = 1;

  constructor(
    private readonly vendor: Vendor,
    workdir: string,
    createdAt: Date,
    private readonly daytonaDeps: DaytonaSandboxDeps,
  ) {
    super(vendor.id, workdir, createdAt, daytonaDeps, 'Daytona');
    this.files = new DaytonaFiles(vendor, workdir, this.call);
    this.processes = new DaytonaProcesses(vendor, (cwd) => this.checkCwd(cwd), this.call);
    if (daytonaDeps.autoStopMs > 0)
      this.keepRenewed(
        daytonaDeps.autoStopMs,
        () => this.vendor.refreshActivity(),
        'could not refresh Daytona sandbox activity',
      );
  }

  private async session(): Promise<string> {
    const free = this.freeSessions.pop();
    if (free) return free;
    const id = `sandbox-mcp-exec-${this.nextSession++}-${Date.now().toString(36)}`;
    await this.call('create session', () => this.vendor.process.createSession(id), { retry: true, scope: 'toolbox' });
    return id;
  }

  protected async run(command: string, opts: ExecOptions): Promise<ExecResult> {
    const cwd = resolvePath(this.workdir, opts.cwd ?? '.');
    const pidFile = tmpName('pid');
    let stdinFile: string | null = null;
    if (opts.stdin !== undefined) {
      const uploadTo = tmpName('in');
      stdinFile = uploadTo;
      const data = Buffer.from(opts.stdin);
      await this.call('upload stdin', () => this.vendor.fs.uploadFile(data, uploadTo), {
        retry: false,
        scope: 'toolbox',
      });
    }
    const wrapped = wrapCommand(command, { cwd, env: opts.env, pidFile, stdinFile });
    const sessionId = await this.session();
    const started = performance.now();
    const deadline = new ExecDeadline(opts, () => {
      void signalTree(this.vendor, this.deps.call, pidFile, 9);
    });
    let reusable = false;
    try {
      // The HTTP request outlives our own timeout a little, so our tree kill decides, not a dropped connection.
      const waitS = Math.ceil(opts.timeoutMs / 1000) + 30;
      const res = await this.call(
        'exec',
        () => this.vendor.process.executeSessionCommand(sessionId, { command: wrapped, runAsync: false }, waitS),
        { retry: false, scope: 'toolbox' },
      );
      reusable = true;
      const stdout = res.stdout ?? '';
      const stderr = res.stderr ?? '';
      const code = res.exitCode ?? null;
      if (code === 97 && stderr.trim() === NO_CWD) throw noSuchDirectory(cwd);
      const capture = outputCaptures(this.deps.maxOutputBytes);
      capture.out.push(Buffer.from(stdout));
      capture.err.push(Buffer.from(stderr));
      if (stdout) opts.onOutput?.({ stream: 'stdout', data: stdout });
      if (stderr) opts.onOutput?.({ stream: 'stderr', data: stderr });
      return execResult(howItEnded(code, deadline.killed), capture, started, deadline);
    } finally {
      deadline.dispose();
      if (reusable && this.alive) this.freeSessions.push(sessionId);
      else void this.vendor.process.deleteSession(sessionId).catch(() => undefined);
    }
  }

  async portUrl(port: number): Promise<{ url: string; headers: Record<string, string> }> {
    this.checkPort(port);
    const link = await this.call('preview link', () => this.vendor.getPreviewLink(port));
    return { url: link.url, headers: { 'x-daytona-preview-token': link.token } };
  }

  /** Daytona's lifetime is an idle auto-stop: activity resets it. */
  async keepAlive(): Promise<void> {
    await this.call('refresh activity', () => this.vendor.refreshActivity());
    this.renewal?.renewed(this.daytonaDeps.autoStopMs);
  }

  // release(): nothing to do on Daytona's side. The sandbox stays (Daytona stops it after its
  // auto-stop interval; the next server reattaches it by its labels and starts it again).

  protected async destroy(): Promise<void> {
    await this.deps
      .call('delete sandbox', () => this.daytonaDeps.daytona.delete(this.vendor, 60))
      .catch((error: Error) => this.warn(error, 'Daytona delete failed; the sandbox stops at its auto-stop interval'));
  }
}

/** The exit of a wrapped command: bash reports a death by signal N as 128+N; `killed`: our timeout or cancel. */
function howItEnded(code: number | null, killed: boolean): { exitCode: number | null; signal: string | null } {
  if (killed) return { exitCode: null, signal: 'SIGKILL' };
  if (code === null || code <= 128 || code >= 160) return { exitCode: code, signal: null };
  if (code === 137) return { exitCode: null, signal: 'SIGKILL' };
  if (code === 143) return { exitCode: null, signal: 'SIGTERM' };
  return { exitCode: null, signal: `SIG${code - 128}` };
}
