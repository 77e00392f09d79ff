import { CommandExitError, type CommandHandle, type Sandbox as Vendor } from 'e2b';
import type { HeadTailCapture } from '../../agent/capture.js';
import { ExecDeadline, execResult, outputCaptures } from '../shared/remote-exec.js';
import { RemoteSandbox, type RemoteSandboxDeps } from '../shared/remote-sandbox.js';
import { SandboxError } from '../../errors.js';
import { settleWithin } from '../../settle-within.js';
import type { ExecOptions, ExecResult } from '../types.js';
import { translate } from './errors.js';
import { E2BFiles } from './files.js';
import { discardAccumulatedOutput, E2BProcesses, signalFromError, signalTree } from './processes.js';

/** How long past its timeout a command's stream may stay open (the tree kill ends it in well under 1 s). */
const ENDLESS_STREAM_GRACE_MS = 10_000;

/** E2B's call options: retry (default on) for calls that are safe to repeat. */
export type E2BCallOptions = { retry?: boolean };

export interface E2BSandboxDeps extends RemoteSandboxDeps<E2BCallOptions> {
  /** E2B's lifetime for the sandbox; renewed on activity. */
  lifetimeMs: number;
}

/** One E2B sandbox behind the project's Sandbox interface (what all cloud sandboxes share: RemoteSandbox). */
export class E2BSandbox extends RemoteSandbox<E2BCallOptions> {
  readonly provider = 'e2b' as const;
  readonly files: E2BFiles;
  readonly processes: E2BProcesses;
  protected readonly chromiumInstallHint =
    'use an E2B template whose image has Chromium on its PATH (e.g. a template Dockerfile with RUN apt-get install -y --no-install-recommends chromium) and set E2B_TEMPLATE to it';

  constructor(
    private readonly vendor: Vendor,
    workdir: string,
    createdAt: Date,
    deps: E2BSandboxDeps,
  ) {
    super(vendor.sandboxId, workdir, createdAt, deps, 'E2B');
    this.files = new E2BFiles(vendor, workdir, this.call);
    this.processes = new E2BProcesses(vendor, (cwd) => this.checkCwd(cwd), this.call, deps.log);
    this.keepRenewed(
      deps.lifetimeMs,
      () => this.vendor.setTimeout(deps.lifetimeMs),
      'could not renew the E2B sandbox timeout',
    );
  }

  protected async run(command: string, opts: ExecOptions): Promise<ExecResult> {
    const cwd = await this.checkCwd(opts.cwd);
    const capture = outputCaptures(this.deps.maxOutputBytes);
    const started = performance.now();
    const handle = await this.startInBackground(command, cwd, opts, capture);
    discardAccumulatedOutput(handle);
    const deadline = new ExecDeadline(opts, () => {
      void signalTree(this.vendor, this.deps.call, handle.pid, 9).then(() => handle.kill().catch(() => false));
    });
    try {
      if (opts.stdin !== undefined) await this.feedStdin(handle, opts.stdin);
      let { exitCode, signal } = await this.waitForExit(handle, opts.timeoutMs + ENDLESS_STREAM_GRACE_MS);
      if (deadline.killed) {
        exitCode = null;
        signal ??= 'SIGKILL';
      }
      return execResult({ exitCode, signal }, capture, started, deadline);
    } finally {
      deadline.dispose();
    }
  }

  // Background mode is what lets us feed stdin and enforce our own timeout (kill the whole tree).
  private startInBackground(
    command: string,
    cwd: string,
    opts: ExecOptions,
    capture: { out: HeadTailCapture; err: HeadTailCapture },
  ): Promise<CommandHandle> {
    return this.call(
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
    if (stdin) await this.call('stdin', () => handle.sendStdin(stdin), { retry: false });
    await this.call('close stdin', () => handle.closeStdin(), { retry: false });
  }

  /**
   * How the command ended: E2B reports a non-zero exit or a signal as a CommandExitError. envd runs
   * inside the sandbox, where hostile code can replace it and keep the stream open past the kill at
   * the timeout: after `limitMs` the stream is dropped and the call fails instead of waiting for ever.
   */
  private async waitForExit(
    handle: CommandHandle,
    limitMs: number,
  ): Promise<{ exitCode: number | null; signal: string | null }> {
    try {
      await settleWithin(handle.wait(), limitMs, () => {
        void handle.disconnect().catch(() => undefined);
        throw new SandboxError(
          'TIMEOUT',
          `the E2B sandbox did not end the command's stream within ${Math.round(limitMs / 1000)} s`,
          {
            hint: "the command was killed at its timeout but the sandbox's daemon (envd) never said so: it may have been replaced or stopped; kill the sandbox (sandbox_delete) and use a fresh one",
          },
        );
      });
      return { exitCode: 0, signal: null };
    } catch (error) {
      if (!(error instanceof CommandExitError)) {
        const translated = translate(error);
        this.noteError(translated);
        throw translated;
      }
      const signal = signalFromError(error.error);
      return { exitCode: signal ? null : error.exitCode, signal };
    }
  }

  async portUrl(port: number): Promise<{ url: string }> {
    this.checkPort(port);
    return { url: `https://${this.vendor.getHost(port)}` };
  }

  async keepAlive(ms: number): Promise<void> {
    await this.call('renew timeout', () => this.vendor.setTimeout(ms));
    this.renewal?.renewed(ms);
  }

  /** A named workspace at shutdown: E2B keeps the sandbox `keepMs` more, for the next server to reattach. */
  protected override async beforeRelease(keepMs: number): Promise<void> {
    await this.keepAlive(keepMs).catch((error: Error) =>
      this.warn(error, 'could not extend the E2B timeout of a workspace sandbox'),
    );
  }

  protected async destroy(): Promise<void> {
    await this.deps
      .call('kill sandbox', () => this.vendor.kill())
      .catch((error: Error) => this.warn(error, 'E2B kill failed; the sandbox ends at its timeout'));
  }
}
