import { SandboxError } from '../../errors.js';
import type { ProviderName } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { BrowserEndpoint, ExecOptions, ExecResult, FilesApi, ProcessApi, Sandbox } from '../types.js';
import { SandboxChromium } from './cdp-browser.js';
import { resolvePath } from './paths.js';
import { Renewal } from './renewal.js';

/** A provider's vendor call: its retries, and vendor errors translated by the provider's errors.ts. */
export type VendorCall<CallOptions = { retry?: boolean }> = <T>(
  what: string,
  fn: () => Promise<T>,
  opts?: CallOptions,
) => Promise<T>;

export interface RemoteSandboxDeps<CallOptions> {
  call: VendorCall<CallOptions>;
  log: Logger;
  maxOutputBytes: number;
  onKilled: (id: string) => void;
}

/** What the base needs of a vendor's process table besides the tools' ProcessApi. */
export interface RemoteProcessApi extends ProcessApi {
  anyRunning(): boolean;
  /** Stops following every process (the sandbox is going away or another replica keeps it). */
  detachAll(): void;
}

export function noSuchDirectory(dir: string): SandboxError {
  return new SandboxError('INVALID_ARGUMENT', `cwd ${dir} is not an existing directory`, {
    hint: 'pass an existing directory (relative paths start at the workdir), or create it first with mkdir -p',
  });
}

/**
 * What an E2B and a Daytona sandbox share: the "sandbox has ended" guard on every vendor call, the
 * vendor-side lifetime kept renewed under activity (Renewal), the ways of letting the sandbox go
 * (kill, release, detach: each once), cwd and port checks, and the in-sandbox Chromium. A subclass
 * brings the vendor's SDK calls: exec, port URLs, renewing, and ending the sandbox.
 */
export abstract class RemoteSandbox<CallOptions> implements Sandbox {
  abstract readonly provider: ProviderName;
  abstract readonly files: FilesApi;
  abstract readonly processes: RemoteProcessApi;
  /** What to put in the vendor's image when no Chromium is found. */
  protected abstract readonly chromiumInstallHint: string;
  /** False once killed, let go, or a vendor call said the sandbox is gone. */
  protected alive = true;
  protected renewal?: Renewal;
  private ended?: Promise<void>;
  private chromium?: SandboxChromium;
  /** Every vendor call of the capability objects goes through this: refused once dead, renewing. */
  protected readonly call: VendorCall<CallOptions> = (what, fn, opts) => this.guard(what, fn, opts);

  constructor(
    readonly id: string,
    readonly workdir: string,
    readonly createdAt: Date,
    protected readonly deps: RemoteSandboxDeps<CallOptions>,
    /** The vendor's name in messages ("E2B", "Daytona"). */
    private readonly vendorName: string,
  ) {}

  /** Runs `command` to its end (timeout, cancel and output cap in `opts`). */
  protected abstract run(command: string, opts: ExecOptions): Promise<ExecResult>;
  /** Ends the sandbox on the vendor's side (kill, delete); failures are the subclass's to log. */
  protected abstract destroy(): Promise<void>;
  abstract portUrl(port: number): Promise<{ url: string; headers?: Record<string, string> }>;
  abstract keepAlive(ms: number): Promise<void>;

  /** Keeps the vendor's lifetime (`lifetimeMs`) renewed with `renew` while the sandbox is in use. */
  protected keepRenewed(lifetimeMs: number, renew: () => Promise<void>, failure: string): void {
    this.renewal = new Renewal(
      lifetimeMs,
      renew,
      () => this.processes.anyRunning(),
      (error) => this.warn(error, failure),
    );
  }

  /** False once killed, found dead, or past the lifetime we last renewed (then the vendor has ended it). */
  isAlive(): boolean {
    return this.alive && (!this.renewal || Date.now() < this.renewal.expiresAt - 1000);
  }

  private async guard<T>(what: string, callback: () => Promise<T>, opts?: CallOptions): Promise<T> {
    if (!this.isAlive())
      throw new SandboxError('SANDBOX_GONE', `${this.vendorName} sandbox ${this.id} has ended`, {
        hint: 'the next call starts a fresh sandbox',
      });
    try {
      return await this.track(() => this.deps.call(what, callback, opts));
    } catch (error) {
      this.noteError(error);
      throw error;
    }
  }

  /** A vendor error seen outside `call` (an exec's stream): SANDBOX_GONE marks the sandbox dead. */
  protected noteError(error: unknown): void {
    if ((error as SandboxError).code === 'SANDBOX_GONE') this.alive = false;
  }

  /** Counts as activity for the renewal while it runs and when it ends. */
  protected track<T>(callback: () => Promise<T>): Promise<T> {
    return this.renewal ? this.renewal.track(callback) : callback();
  }

  exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    // Tracked as a whole: a long build is activity, and the vendor's lifetime is renewed under it.
    return this.track(() => this.run(command, opts));
  }

  /** Resolves a cwd and checks it is an existing directory, for the clear error the local provider gives. */
  protected async checkCwd(cwd: string | undefined): Promise<string> {
    if (cwd === undefined) return this.workdir;
    const dir = resolvePath(this.workdir, cwd);
    const info = await this.files.stat(dir).catch((sandboxError: SandboxError) => {
      if (sandboxError.code === 'NOT_FOUND') return undefined;
      throw sandboxError;
    });
    if (info?.type !== 'directory') throw noSuchDirectory(dir);
    return dir;
  }

  protected checkPort(port: number): void {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new SandboxError('INVALID_ARGUMENT', `port ${port} is not a TCP port`, {
        hint: 'pass a number from 1 to 65535',
      });
  }

  /** Chromium from the image, started in the sandbox and reached over CDP through the vendor's port URL. */
  async browserEndpoint(opts: { chromiumPath: string }): Promise<BrowserEndpoint> {
    this.chromium ??= new SandboxChromium(this, this.chromiumInstallHint, this.deps.log);
    return this.chromium.endpoint(opts.chromiumPath);
  }

  /**
   * Server shutdown with a named workspace: this server lets the sandbox go and the vendor keeps it
   * about `keepMs` more (`beforeRelease`), for the next server to reattach.
   */
  release(keepMs: number): Promise<void> {
    return this.once(async () => {
      await this.beforeRelease(keepMs);
      this.letGo();
    });
  }

  /** What the vendor needs to keep a released sandbox `keepMs` more; nothing by default. */
  protected async beforeRelease(_keepMs: number): Promise<void> {}

  /** Another replica may use it (a handle's sandbox): stop using it here, leave its lifetime as it is. */
  detach(): void {
    this.ended ??= Promise.resolve();
    this.letGo();
  }

  kill(): Promise<void> {
    return this.once(async () => {
      if (this.letGo()) await this.destroy();
    });
  }

  /** The first of kill, release and detach decides; later calls wait for it. */
  private once(ending: () => Promise<void>): Promise<void> {
    this.ended ??= ending();
    return this.ended;
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

  protected warn(error: Error, message: string): void {
    this.deps.log.warn({ sandboxId: this.id, err: error.message }, message);
  }
}
