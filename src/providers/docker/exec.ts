import { randomBytes } from 'node:crypto';
import { Writable, type Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { SandboxError } from '../../errors.js';
import { MAX_TRANSFER_BYTES } from '../../agent/protocol.js';
import type { ExecResult } from '../types.js';
import { Controller } from './control.js';
import { execStartFailed, translateDockerError, type ErrorContext } from './errors.js';
import { ExecRun, KILL_GRACE_MS, type RunOptions } from './exec-run.js';
import { killScript, MARKER_ENV, TOKEN_ENV, wrapperCmd } from './framing.js';

// processes.ts reads exit statuses the same way a run does.
export { signalFromStatus } from './exec-run.js';

const SANDBOX_USER = '1000:1000';
/** A helper's output: the largest file content one read moves, plus its size line and some slack. */
const HELPER_MAX_STDOUT = MAX_TRANSFER_BYTES + 64 * 1024;
/** Helpers print short error lines; a sandbox that floods stderr is cut here. */
const HELPER_MAX_STDERR = 64 * 1024;

export function newToken(): string {
  return randomBytes(12).toString('hex');
}

export interface StartedExec {
  exec: Dockerode.Exec;
  stream: Duplex;
}

/** Collects chunks up to a byte budget; push() says false once the budget is passed (the rest is dropped). */
class CappedBuffer {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly max: number) {}

  push(data: Buffer): boolean {
    if (this.size >= this.max && data.length) return false;
    if (this.size + data.length > this.max) {
      this.chunks.push(data.subarray(0, Math.max(0, this.max - this.size)));
      this.size = this.max;
      return false;
    }
    this.chunks.push(data);
    this.size += data.length;
    return true;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

/** Writable that hands every chunk to a function (the demuxer needs two writables). */
export function sink(callback: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      callback(chunk);
      done();
    },
  });
}

/**
 * Runs processes in one container through the engine's exec API, as the sandbox user: framed commands
 * (exec and background processes), small helper scripts (files, kills) and their exit codes.
 */
export class ContainerExec {
  private readonly controller = new Controller();

  constructor(
    private readonly docker: Dockerode,
    readonly container: Dockerode.Container,
    readonly workdir: string,
    private readonly errorContext: ErrorContext,
    /** Called when the engine says the container is gone, so the sandbox reports SANDBOX_GONE from then on. */
    private readonly onGone: () => void,
  ) {}

  translate(err: unknown, doing: string): SandboxError {
    const e = translateDockerError(err, { ...this.errorContext, doing });
    if (e.code === 'SANDBOX_GONE') this.onGone();
    return e;
  }

  /** `root`: only for sandbox-mcp's own fixed scripts (the last-use mark); root there has no capabilities. */
  async start(
    cmd: string[],
    opts: { env?: Record<string, string>; stdin: boolean; root?: boolean },
  ): Promise<StartedExec> {
    try {
      const exec = await this.container.exec({
        Cmd: cmd,
        AttachStdout: true,
        AttachStderr: true,
        AttachStdin: opts.stdin,
        Tty: false,
        Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
        User: opts.root ? '0:0' : SANDBOX_USER,
        WorkingDir: this.workdir,
        Privileged: false,
      });
      const stream = await exec.start({ hijack: true, stdin: opts.stdin });
      stream.on('error', () => {
        /* reported through end/close; EPIPE when a command ignores its stdin */
      });
      return { exec, stream };
    } catch (e) {
      throw this.translate(e, 'starting a command in the sandbox');
    }
  }

  /**
   * Whether the container was removed or stopped behind our back (the sandbox then reports SANDBOX_GONE).
   * Asked when a command's wrapper died without our kill; the engine marks the container stopped a
   * moment after its processes die, hence the short wait.
   */
  async containerGone(waitMs = 2000): Promise<boolean> {
    for (let waited = 0; ; waited += 250) {
      const running = await this.container.inspect().then(
        (i) => i.State.Running && !i.State.Paused,
        (e: unknown) => this.translate(e, 'inspecting the sandbox container').code !== 'SANDBOX_GONE',
      );
      if (!running) {
        this.onGone();
        return true;
      }
      if (waited >= waitMs) return false;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Feeds the exec's stream to stdout/stderr callbacks; resolves when the engine closes it. */
  demux(stream: Duplex, onStdout: (b: Buffer) => void, onStderr: (b: Buffer) => void): Promise<void> {
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
    });
    this.docker.modem.demuxStream(stream, sink(onStdout), sink(onStderr));
    return ended;
  }

  /** The exit code the engine recorded; it may lag the stream's end by a moment. */
  async exitCode(exec: Dockerode.Exec): Promise<number | null> {
    for (let i = 0; i < 50; i++) {
      const info = await exec.inspect().catch((error: unknown) => {
        throw this.translate(error, 'reading an exit code');
      });
      if (!info.Running) return info.ExitCode;
      await new Promise((r) => setTimeout(r, 20));
    }
    return null;
  }

  /**
   * A helper script (bash) with args; stdout as bytes, stderr as text, exit code from exec inspect.
   * What the container prints is capped (a file read, a listing of millions of names): past
   * `maxStdoutBytes` the helper is killed and the call fails, instead of the server buffering it all.
   */
  async helper(
    script: string,
    args: string[],
    opts: { stdin?: Buffer; timeoutMs?: number; maxStdoutBytes?: number } = {},
  ): Promise<{ stdout: Buffer; stderr: string; exitCode: number | null }> {
    const token = newToken();
    const { exec, stream } = await this.start(['/bin/bash', '-c', script, 'sandbox-mcp', ...args], {
      env: { [MARKER_ENV]: token, TZ: 'UTC', LC_ALL: 'C.UTF-8' },
      stdin: opts.stdin !== undefined,
    });
    const maxStdout = opts.maxStdoutBytes ?? HELPER_MAX_STDOUT;
    const out = new CappedBuffer(maxStdout);
    const err = new CappedBuffer(HELPER_MAX_STDERR);
    let stopped: 'timeout' | 'overflow' | undefined;
    const stop = (why: 'timeout' | 'overflow') => {
      if (stopped) return;
      stopped = why;
      void this.kill(token, 'SIGKILL').catch(() => undefined);
      setTimeout(() => stream.destroy(), why === 'overflow' ? 0 : KILL_GRACE_MS).unref();
    };
    const ended = this.demux(
      stream,
      (data) => {
        if (!out.push(data)) stop('overflow');
      },
      (data) => {
        err.push(data);
      },
    );
    if (opts.stdin !== undefined) stream.end(opts.stdin);
    const timer = setTimeout(() => stop('timeout'), opts.timeoutMs ?? 60_000);
    try {
      await ended;
    } finally {
      clearTimeout(timer);
    }
    if (stopped === 'timeout')
      throw new SandboxError(
        'TIMEOUT',
        `a file operation took longer than ${Math.round((opts.timeoutMs ?? 60_000) / 1000)} s and was stopped`,
        { hint: 'the path may be a slow or blocking file; try a shell command instead' },
      );
    if (stopped === 'overflow')
      throw new SandboxError('LIMIT_EXCEEDED', `the answer was larger than ${maxStdout} bytes and was stopped`, {
        hint: 'ask for less: a byte range of a file, a narrower path or a glob',
      });
    const r = { stdout: out.bytes(), stderr: err.bytes().toString(), exitCode: await this.exitCode(exec) };
    // bash never ran (runc's text is all there is, e.g. the process limit is used up): say so, not "exit 126".
    if (
      r.exitCode === 126 &&
      /^OCI runtime exec failed/.test(`${r.stdout.subarray(0, 200).toString()}${r.stderr}`.trim())
    ) {
      throw execStartFailed(r.stdout.subarray(0, 300).toString() + r.stderr);
    }
    return r;
  }

  /** One of sandbox-mcp's own scripts as root, with no input; its stdout (capped) and exit code. */
  async rootScript(
    script: string,
    args: string[],
    timeoutMs = 10_000,
  ): Promise<{ stdout: string; exitCode: number | null }> {
    const { exec, stream } = await this.start(['/bin/bash', '-c', script, 'sandbox-mcp-root', ...args], {
      env: { HOME: '/', LC_ALL: 'C' },
      stdin: false,
      root: true,
    });
    const out = new CappedBuffer(4096);
    const timer = setTimeout(() => stream.destroy(), timeoutMs);
    try {
      await this.demux(
        stream,
        (b) => void out.push(b),
        () => undefined,
      );
    } finally {
      clearTimeout(timer);
    }
    return { stdout: out.bytes().toString('utf8'), exitCode: await this.exitCode(exec) };
  }

  /** Starts the kill controller; done once, right after the container starts, while it has processes to spare. */
  startController(): Promise<void> {
    return this.controller.start(this);
  }

  stopController(): void {
    this.controller.stop();
  }

  /**
   * Signals every process of the command that carries `token` or is in its `session` (the pid the header
   * reported; 0 when none): through the controller, else a fresh exec.
   */
  async kill(token: string, signal: string, session = 0): Promise<void> {
    if (await this.controller.kill(token, signal, session)) return;
    const { stream } = await this.start(
      ['/bin/bash', '-c', killScript(), 'sandbox-mcp-kill', token, signal, String(session)],
      { stdin: false },
    );
    await this.demux(
      stream,
      () => undefined,
      () => undefined,
    );
  }

  /** Every process of the container but its machinery, through the controller (it needs no fork). */
  async killAll(): Promise<number> {
    const n = await this.controller.killAll();
    if (n === undefined)
      throw new SandboxError(
        'UNAVAILABLE',
        "the sandbox's process controller is not answering, so its processes cannot be listed and killed",
        { hint: 'end this session (or wait for SANDBOX_IDLE_TIMEOUT) to get a fresh sandbox' },
      );
    return n;
  }

  /** shell_exec: runs `command` to completion with head+tail output capture, a timeout and cancellation. */
  async run(command: string, opts: RunOptions): Promise<ExecResult> {
    const token = newToken();
    const at = performance.now();
    const { exec, stream } = await this.start(wrapperCmd(opts.cwd ?? this.workdir, command, opts.env), {
      env: { [TOKEN_ENV]: token },
      stdin: opts.stdin !== undefined,
    });
    return new ExecRun(this, { exec, stream, token, at }, opts).result();
  }
}
