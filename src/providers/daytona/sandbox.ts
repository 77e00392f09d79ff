import type { Daytona, Sandbox as Vendor } from '@daytonaio/sdk';
import { SandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { resolvePath } from '../shared/paths.js';
import { HeadTailCapture } from '../../agent/capture.js';
import { Renewal } from '../shared/renewal.js';
import { SandboxChromium } from '../shared/cdp-browser.js';
import type { BrowserEndpoint, ExecOptions, ExecResult, Sandbox } from '../types.js';
import { DaytonaFiles } from './files.js';
import { DaytonaProcesses, NO_CWD, signalTree, tmpName, wrapCommand, type Call } from './processes.js';

export interface DaytonaSandboxDeps {
  daytona: Daytona;
  call: Call;
  log: Logger;
  maxOutputBytes: number;
  /** Daytona's auto-stop interval (0: off): activity must be refreshed within it. */
  autoStopMs: number;
  onKilled: (id: string) => void;
}

/** One Daytona sandbox behind the project's Sandbox interface. */
export class DaytonaSandbox implements Sandbox {
  readonly provider = 'daytona' as const;
  readonly id: string;
  readonly files: DaytonaFiles;
  readonly processes: DaytonaProcesses;
  private alive = true;
  private killed?: Promise<void>;
  private readonly renewal?: Renewal;
  /** Idle exec sessions: a command blocks its session, so concurrent execs each get their own. */
  private freeSessions: string[] = [];
  private nextSession = 1;
  private chromium?: SandboxChromium;

  constructor(
    private readonly vendor: Vendor,
    readonly workdir: string,
    readonly createdAt: Date,
    private readonly deps: DaytonaSandboxDeps,
  ) {
    this.id = vendor.id;
    const call: Call = (what, fn, opts) => this.guard(what, fn, opts);
    this.files = new DaytonaFiles(vendor, workdir, call);
    this.processes = new DaytonaProcesses(vendor, (cwd) => this.checkCwd(cwd), call);
    if (deps.autoStopMs > 0) {
      this.renewal = new Renewal(
        deps.autoStopMs,
        () => this.vendor.refreshActivity(),
        () => this.processes.anyRunning(),
        (e) => deps.log.warn({ sandboxId: this.id, err: e.message }, 'could not refresh Daytona sandbox activity'),
      );
    }
  }

  /** False once deleted, found gone, or idle past Daytona's auto-stop (then Daytona has stopped it). */
  isAlive(): boolean {
    return this.alive && (!this.renewal || Date.now() < this.renewal.expiresAt - 1000);
  }

  private async guard<T>(what: string, callback: () => Promise<T>, opts?: Parameters<Call>[2]): Promise<T> {
    if (!this.isAlive())
      throw new SandboxError('SANDBOX_GONE', `Daytona sandbox ${this.id} has ended`, {
        hint: 'the next call starts a fresh sandbox',
      });
    try {
      const run = () => this.deps.call(what, callback, opts);
      return await (this.renewal ? this.renewal.track(run) : run());
    } catch (e) {
      if ((e as SandboxError).code === 'SANDBOX_GONE') this.alive = false;
      throw e;
    }
  }

  private async checkCwd(cwd: string | undefined): Promise<string> {
    if (cwd === undefined) return this.workdir;
    const dir = resolvePath(this.workdir, cwd);
    const info = await this.files.stat(dir).catch((sandboxError: SandboxError) => {
      if (sandboxError.code === 'NOT_FOUND') return undefined;
      throw sandboxError;
    });
    if (info?.type !== 'directory') throw noCwd(dir);
    return dir;
  }

  private async session(): Promise<string> {
    const free = this.freeSessions.pop();
    if (free) return free;
    const id = `sandbox-mcp-exec-${this.nextSession++}-${Date.now().toString(36)}`;
    await this.guard('create session', () => this.vendor.process.createSession(id), { retry: true, scope: 'toolbox' });
    return id;
  }

  exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    const run = () => this.run(command, opts);
    return this.renewal ? this.renewal.track(run) : run();
  }

  private async run(command: string, opts: ExecOptions): Promise<ExecResult> {
    const cwd = resolvePath(this.workdir, opts.cwd ?? '.');
    const pidFile = tmpName('pid');
    let stdinFile: string | null = null;
    if (opts.stdin !== undefined) {
      stdinFile = tmpName('in');
      const data = Buffer.from(opts.stdin);
      await this.guard('upload stdin', () => this.vendor.fs.uploadFile(data, stdinFile!), {
        retry: false,
        scope: 'toolbox',
      });
    }
    const wrapped = wrapCommand(command, { cwd, env: opts.env, pidFile, stdinFile });
    const sessionId = await this.session();
    const started = performance.now();
    let timedOut = false;
    let cancelled = false;
    const stop = () => {
      void signalTree(this.vendor, this.deps.call, pidFile, 9);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      stop();
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let reusable = false;
    try {
      // The HTTP request outlives our own timeout a little, so our tree kill decides, not a dropped connection.
      const waitS = Math.ceil(opts.timeoutMs / 1000) + 30;
      const res = await this.guard(
        'exec',
        () => this.vendor.process.executeSessionCommand(sessionId, { command: wrapped, runAsync: false }, waitS),
        { retry: false, scope: 'toolbox' },
      );
      reusable = true;
      const r = { exitCode: res.exitCode, stdout: res.stdout ?? '', stderr: res.stderr ?? '' };
      const code = r.exitCode ?? null;
      if (code === 97 && r.stderr.trim() === NO_CWD) throw noCwd(cwd);
      const budget = Math.max(512, Math.floor(this.deps.maxOutputBytes / 2));
      const out = new HeadTailCapture(budget);
      const err = new HeadTailCapture(budget);
      out.push(Buffer.from(r.stdout));
      err.push(Buffer.from(r.stderr));
      if (r.stdout) opts.onOutput?.({ stream: 'stdout', data: r.stdout });
      if (r.stderr) opts.onOutput?.({ stream: 'stderr', data: r.stderr });
      const killed = timedOut || cancelled;
      const bySignal = code !== null && code > 128 && code < 160;
      return {
        exitCode: killed || bySignal ? null : code,
        signal: killed
          ? 'SIGKILL'
          : bySignal
            ? code === 137
              ? 'SIGKILL'
              : code === 143
                ? 'SIGTERM'
                : `SIG${code - 128}`
            : null,
        stdout: out.text(),
        stderr: err.text(),
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        timedOut,
        cancelled,
        truncated: out.dropped + err.dropped > 0,
        droppedBytes: out.dropped + err.dropped,
      };
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (reusable && this.alive) this.freeSessions.push(sessionId);
      else void this.vendor.process.deleteSession(sessionId).catch(() => undefined);
    }
  }

  async portUrl(port: number): Promise<{ url: string; headers: Record<string, string> }> {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new SandboxError('INVALID_ARGUMENT', `port ${port} is not a TCP port`, {
        hint: 'pass a number from 1 to 65535',
      });
    const link = await this.guard('preview link', () => this.vendor.getPreviewLink(port));
    return { url: link.url, headers: { 'x-daytona-preview-token': link.token } };
  }

  /** Chromium from the snapshot, started in the sandbox and reached over CDP through Daytona's preview URL (cdp-browser.ts). */
  async browserEndpoint(opts: { chromiumPath: string }): Promise<BrowserEndpoint> {
    this.chromium ??= new SandboxChromium(
      this,
      'use a Daytona snapshot whose image has Chromium on its PATH (e.g. built from a Dockerfile with RUN apt-get install -y --no-install-recommends chromium) and set DAYTONA_SNAPSHOT to it',
      this.deps.log,
    );
    return this.chromium.endpoint(opts.chromiumPath);
  }

  /** Daytona's lifetime is an idle auto-stop: activity resets it. */
  async keepAlive(): Promise<void> {
    await this.guard('refresh activity', () => this.vendor.refreshActivity());
    this.renewal?.renewed(this.deps.autoStopMs);
  }

  /**
   * Server shutdown with a named workspace: the sandbox stays (Daytona stops it after its auto-stop
   * interval; the next server reattaches it by its labels and starts it again).
   */
  release(): Promise<void> {
    this.killed ??= (async () => {
      this.letGo();
    })();
    return this.killed;
  }

  /** Another replica may use it (a handle's sandbox): stop using it here; Daytona's auto-stop applies. */
  detach(): void {
    this.killed ??= Promise.resolve();
    this.letGo();
  }

  kill(): Promise<void> {
    this.killed ??= (async () => {
      const wasAlive = this.letGo();
      if (wasAlive) {
        await this.deps
          .call('delete sandbox', () => this.deps.daytona.delete(this.vendor, 60))
          .catch((error: Error) =>
            this.deps.log.warn(
              { sandboxId: this.id, err: error.message },
              'Daytona delete failed; the sandbox stops at its auto-stop interval',
            ),
          );
      }
    })();
    return this.killed;
  }

  /** This server stops using the sandbox (timers, streams, browser); returns whether it was alive. */
  private letGo(): boolean {
    this.renewal?.stop();
    this.chromium?.dispose();
    this.processes.detachAll();
    const wasAlive = this.alive;
    this.alive = false;
    this.deps.onKilled(this.id);
    return wasAlive;
  }
}

function noCwd(dir: string): SandboxError {
  return new SandboxError('INVALID_ARGUMENT', `cwd ${dir} is not an existing directory`, {
    hint: 'pass an existing directory (relative paths start at the workdir), or create it first with mkdir -p',
  });
}
