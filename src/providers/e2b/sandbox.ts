import { CommandExitError, type CommandHandle, type Sandbox as Vendor } from 'e2b';
import { SandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { HeadTailCapture } from '../../agent/capture.js';
import { Renewal } from '../shared/renewal.js';
import { SandboxChromium } from '../shared/cdp-browser.js';
import type { BrowserEndpoint, ExecOptions, ExecResult, Sandbox } from '../types.js';
import { translate } from './errors.js';
import { E2BFiles } from './files.js';
import { resolvePath } from '../shared/paths.js';
import { discardAccumulatedOutput, E2BProcesses, signalFromError, signalTree } from './processes.js';

type Call = <T>(what: string, fn: () => Promise<T>, opts?: { retry?: boolean }) => Promise<T>;

export interface E2BSandboxDeps {
  call: Call;
  log: Logger;
  maxOutputBytes: number;
  /** E2B's lifetime for the sandbox; renewed on activity. */
  lifetimeMs: number;
  onKilled: (id: string) => void;
}

/** One E2B sandbox behind the project's Sandbox interface. */
export class E2BSandbox implements Sandbox {
  readonly provider = 'e2b' as const;
  readonly id: string;
  readonly files: E2BFiles;
  readonly processes: E2BProcesses;
  private alive = true;
  private killed?: Promise<void>;
  private readonly renewal: Renewal;
  private chromium?: SandboxChromium;

  constructor(
    private readonly vendor: Vendor,
    readonly workdir: string,
    readonly createdAt: Date,
    private readonly deps: E2BSandboxDeps,
  ) {
    this.id = vendor.sandboxId;
    const call: Call = (what, fn, opts) => this.guard(what, fn, opts);
    this.files = new E2BFiles(vendor, workdir, call);
    this.processes = new E2BProcesses(vendor, (cwd) => this.prepareCwd(cwd), call, deps.log);
    this.renewal = new Renewal(
      deps.lifetimeMs,
      () => this.vendor.setTimeout(deps.lifetimeMs),
      () => this.processes.anyRunning(),
      (e) => deps.log.warn({ sandboxId: this.id, err: e.message }, 'could not renew the E2B sandbox timeout'),
    );
  }

  /** False once killed, found dead, or past the E2B timeout we last set (then E2B has ended it). */
  isAlive(): boolean {
    return this.alive && Date.now() < this.renewal.expiresAt - 1000;
  }

  /** Every vendor call: refused once the sandbox is known dead, marks it dead on SANDBOX_GONE, renews its lifetime. */
  private async guard<T>(what: string, callback: () => Promise<T>, opts?: { retry?: boolean }): Promise<T> {
    if (!this.isAlive())
      throw new SandboxError('SANDBOX_GONE', `E2B sandbox ${this.id} has ended`, {
        hint: 'the next call starts a fresh sandbox',
      });
    try {
      return await this.renewal.track(() => this.deps.call(what, callback, opts));
    } catch (e) {
      if ((e as SandboxError).code === 'SANDBOX_GONE') this.alive = false;
      throw e;
    }
  }

  /** Resolves a cwd and checks it is an existing directory, for the clear error the local provider gives. */
  private async prepareCwd(cwd: string | undefined): Promise<string> {
    if (cwd === undefined) return this.workdir;
    const dir = resolvePath(this.workdir, cwd);
    const info = await this.files.stat(dir).catch((sandboxError: SandboxError) => {
      if (sandboxError.code === 'NOT_FOUND') return undefined;
      throw sandboxError;
    });
    if (info?.type !== 'directory') {
      throw new SandboxError('INVALID_ARGUMENT', `cwd ${dir} is not an existing directory`, {
        hint: 'pass an existing directory (relative paths start at the workdir), or create it first with mkdir -p',
      });
    }
    return dir;
  }

  exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    // Tracked as a whole: a long build is activity, and the sandbox's timeout is renewed under it.
    return this.renewal.track(() => this.run(command, opts));
  }

  private async run(command: string, opts: ExecOptions): Promise<ExecResult> {
    const cwd = await this.prepareCwd(opts.cwd);
    const budget = Math.max(512, Math.floor(this.deps.maxOutputBytes / 2));
    const out = new HeadTailCapture(budget);
    const err = new HeadTailCapture(budget);
    const started = performance.now();
    const handle = await this.startInBackground(command, cwd, opts, { out, err });
    discardAccumulatedOutput(handle);
    let timedOut = false;
    let cancelled = false;
    const stop = () => {
      void signalTree(this.vendor, this.deps.call, handle.pid, 9).then(() => handle.kill().catch(() => false));
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
    try {
      if (opts.stdin !== undefined) await this.feedStdin(handle, opts.stdin);
      let { exitCode, signal } = await this.waitForExit(handle);
      if (timedOut || cancelled) {
        exitCode = null;
        signal ??= 'SIGKILL';
      }
      return {
        exitCode,
        signal,
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
    }
  }

  // Background mode is what lets us feed stdin and enforce our own timeout (kill the whole tree).
  private startInBackground(
    command: string,
    cwd: string,
    opts: ExecOptions,
    capture: { out: HeadTailCapture; err: HeadTailCapture },
  ): Promise<CommandHandle> {
    return this.guard(
      'exec',
      () =>
        this.vendor.commands.run(command, {
          background: true,
          stdin: opts.stdin !== undefined,
          cwd,
          envs: opts.env,
          timeoutMs: 0,
          onStdout: (chunk) => {
            capture.out.push(Buffer.from(chunk));
            opts.onOutput?.({ stream: 'stdout', data: chunk });
          },
          onStderr: (chunk) => {
            capture.err.push(Buffer.from(chunk));
            opts.onOutput?.({ stream: 'stderr', data: chunk });
          },
        }),
      { retry: false },
    );
  }

  private async feedStdin(handle: CommandHandle, stdin: string): Promise<void> {
    if (stdin) await this.guard('stdin', () => handle.sendStdin(stdin), { retry: false });
    await this.guard('close stdin', () => handle.closeStdin(), { retry: false });
  }

  /** How the command ended: E2B reports a non-zero exit or a signal as a CommandExitError. */
  private async waitForExit(handle: CommandHandle): Promise<{ exitCode: number | null; signal: string | null }> {
    try {
      await handle.wait();
      return { exitCode: 0, signal: null };
    } catch (e) {
      if (!(e instanceof CommandExitError)) {
        const t = translate(e);
        if (t.code === 'SANDBOX_GONE') this.alive = false;
        throw t;
      }
      const signal = signalFromError(e.error);
      return { exitCode: signal ? null : e.exitCode, signal };
    }
  }

  async portUrl(port: number): Promise<{ url: string }> {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new SandboxError('INVALID_ARGUMENT', `port ${port} is not a TCP port`, {
        hint: 'pass a number from 1 to 65535',
      });
    return { url: `https://${this.vendor.getHost(port)}` };
  }

  /** Chromium from the template, started in the sandbox and reached over CDP through E2B's port URL (cdp-browser.ts). */
  async browserEndpoint(opts: { chromiumPath: string }): Promise<BrowserEndpoint> {
    this.chromium ??= new SandboxChromium(
      this,
      'use an E2B template whose image has Chromium on its PATH (e.g. a template Dockerfile with RUN apt-get install -y --no-install-recommends chromium) and set E2B_TEMPLATE to it',
      this.deps.log,
    );
    return this.chromium.endpoint(opts.chromiumPath);
  }

  async keepAlive(ms: number): Promise<void> {
    await this.guard('renew timeout', () => this.vendor.setTimeout(ms));
    this.renewal.renewed(ms);
  }

  /** Server shutdown with a named workspace: E2B keeps the sandbox `keepMs` more, for the next server to reattach. */
  release(keepMs: number): Promise<void> {
    this.killed ??= (async () => {
      await this.keepAlive(keepMs).catch((error: Error) =>
        this.deps.log.warn(
          { sandboxId: this.id, err: error.message },
          'could not extend the E2B timeout of a workspace sandbox',
        ),
      );
      this.letGo();
    })();
    return this.killed;
  }

  /** Another replica may use it (a handle's sandbox): stop using it here, leave its timeout as it is. */
  detach(): void {
    this.killed ??= Promise.resolve();
    this.letGo();
  }

  kill(): Promise<void> {
    this.killed ??= (async () => {
      const wasAlive = this.letGo();
      if (wasAlive)
        await this.deps
          .call('kill sandbox', () => this.vendor.kill())
          .catch((error: Error) =>
            this.deps.log.warn(
              { sandboxId: this.id, err: error.message },
              'E2B kill failed; the sandbox ends at its timeout',
            ),
          );
    })();
    return this.killed;
  }

  /** This server stops using the sandbox (timers, streams, browser); returns whether it was alive. */
  private letGo(): boolean {
    this.renewal.stop();
    this.chromium?.dispose();
    this.processes.detachAll();
    const wasAlive = this.alive;
    this.alive = false;
    this.deps.onKilled(this.id);
    return wasAlive;
  }
}
