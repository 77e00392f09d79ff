import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { Writable, type Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { SandboxError } from '../../errors.js';
import { HeadTailCapture } from '../../agent/capture.js';
import { MAX_TRANSFER_BYTES } from '../../agent/protocol.js';
import type { ExecOptions, ExecResult } from '../types.js';
import { Controller } from './control.js';
import { execStartFailed, translateDockerError, type ErrorContext } from './errors.js';
import {
  EndLines,
  killScript,
  MARKER_ENV,
  StderrFramer,
  TOKEN_ENV,
  TrailerScanner,
  wrapperCmd,
  type FrameHeader,
} from './framing.js';

/** After a kill, answer at the latest this long later even if the engine keeps the stream open. */
const KILL_GRACE_MS = 5000;
/** How long a kill waits for a command that has not started yet (a loaded engine can take seconds). */
const HEADER_WAIT_MS = 10_000;
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

/** Signal name for a 128+n status, if n is the signal we sent. */
export function signalFromStatus(status: number | null, sent: string | undefined): string | null {
  if (status === null || !sent || status <= 128) return null;
  return constants.signals[sent as NodeJS.Signals] === status - 128 ? sent : null;
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
  async run(command: string, opts: ExecOptions & { maxOutputBytes: number }): Promise<ExecResult> {
    const token = newToken();
    const started = performance.now();
    const { exec, stream } = await this.start(wrapperCmd(opts.cwd ?? this.workdir, command, opts.env), {
      env: { [TOKEN_ENV]: token },
      stdin: opts.stdin !== undefined,
    });
    const budget = Math.max(512, Math.floor(opts.maxOutputBytes / 2));
    const out = new HeadTailCapture(budget);
    const err = new HeadTailCapture(budget);
    let header: FrameHeader | undefined;
    let trailerCode: number | undefined;
    let killedWith: string | undefined;
    let timedOut = false;
    let cancelled = false;
    let answered = false;
    const emit = (streamName: 'stdout' | 'stderr', chunk: Buffer) => {
      if (!answered) opts.onOutput?.({ stream: streamName, data: chunk.toString('utf8') });
    };

    return new Promise<ExecResult>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const finish = async () => {
        if (answered) return;
        answered = true;
        timers.forEach(clearTimeout);
        opts.signal?.removeEventListener('abort', onAbort);
        if (header === 'nocwd') {
          reject(
            new SandboxError('INVALID_ARGUMENT', `cwd ${opts.cwd} is not an existing directory`, {
              hint: 'pass an existing directory (relative paths start at the workdir), or create it first with mkdir -p',
            }),
          );
          return;
        }
        if (header === undefined && trailerCode === undefined && !killedWith) {
          reject(execStartFailed(out.text() + err.text()));
          return;
        }
        let exitCode: number | null = trailerCode ?? null;
        let signal: string | null = null;
        if (trailerCode === undefined && !killedWith && (await this.containerGone())) {
          reject(
            new SandboxError(
              'SANDBOX_GONE',
              'the sandbox container was removed or stopped while the command ran (not by sandbox-mcp)',
              {
                hint: 'the next call starts a fresh sandbox; files and processes of this one are gone',
              },
            ),
          );
          return;
        }
        if (trailerCode === undefined) {
          // The wrapper died with the command (our kill, or the sandbox's memory limit): ask the engine.
          exitCode = await this.exitCode(exec).catch(() => null);
          if (killedWith) {
            signal = killedWith;
            exitCode = null;
          }
        } else {
          signal = signalFromStatus(trailerCode, killedWith);
          if (signal) exitCode = null;
        }
        resolve({
          exitCode,
          signal,
          stdout: out.text(),
          stderr: err.text(),
          durationMs: Math.round((performance.now() - started) * 100) / 100,
          timedOut,
          cancelled,
          truncated: out.dropped + err.dropped > 0,
          droppedBytes: out.dropped + err.dropped,
        });
      };
      // The kill finds the command's processes by their marker, which only exists once the wrapper has
      // started the command (the header line says so). A cancel or timeout that comes earlier waits for
      // the header, else the command would start after the kill and outlive the call.
      let killSent = false;
      const sendKill = () => {
        if (killSent) return;
        killSent = true;
        this.kill(token, 'SIGKILL', typeof header === 'object' ? header.pid : 0).catch(() => undefined);
        timers.push(
          setTimeout(() => {
            stream.destroy();
            void finish();
          }, KILL_GRACE_MS),
        );
      };
      const killAll = () => {
        killedWith = 'SIGKILL';
        if (header !== undefined) sendKill();
        else timers.push(setTimeout(sendKill, HEADER_WAIT_MS));
      };
      const onAbort = () => {
        if (!answered) {
          cancelled = true;
          killAll();
        }
      };
      const ends = new EndLines(() => void finish());
      const framer = new StderrFramer(token, {
        header: (headerLine) => {
          header = headerLine;
          if (headerLine === 'nocwd') void finish();
          else if (killedWith) sendKill();
        },
        data: (data) => {
          err.push(data);
          emit('stderr', data);
        },
        exit: (code) => {
          trailerCode = code;
          ends.exit(code);
        },
      });
      const stdout = new TrailerScanner(token, 'out', {
        data: (data) => {
          out.push(data);
          emit('stdout', data);
        },
        trailer: () => ends.stdoutEnded(),
      });
      this.demux(
        stream,
        (b) => stdout.push(b),
        (b) => framer.push(b),
      )
        .then(() => {
          stdout.flush();
          framer.flush();
          return finish();
        })
        .catch(reject);
      if (opts.stdin !== undefined) stream.end(opts.stdin);
      timers.push(
        setTimeout(() => {
          if (!answered) {
            timedOut = true;
            killAll();
          }
        }, opts.timeoutMs),
      );
      if (opts.signal?.aborted) onAbort();
      else opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
