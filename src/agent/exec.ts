import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { HeadTailCapture } from './capture.js';
import { AgentError } from './errors.js';

export interface ExecArgs {
  command: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  stdin?: string;
  maxOutputBytes: number;
}

export interface ExecOutcome {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  cancelled: boolean;
  truncated: boolean;
  droppedBytes: number;
}

/**
 * How a command runs: `bash -c`, never reading ~/.bashrc. Node hands a child its stdio as Unix socket
 * pairs, and bash takes a socket on stdin for an rshd/sshd login and sources /etc/bash.bashrc and
 * ~/.bashrc before every command: text a .bashrc prints would land in every command's output (the Docker
 * provider's commands, on plain pipes, never read it), and each command paid for it.
 */
export function shellArgv(command: string): [string, string[]] {
  return ['/bin/bash', ['--norc', '-c', command]];
}

/** After the shell exits, wait this long for its pipes to drain before answering. */
const DRAIN_MS = 100;

/** Kill a whole process group; commands run in their own session so the group is their tree. */
export function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

export interface RunningExec {
  done: Promise<ExecOutcome>;
  cancel(): void;
}

/**
 * Marks a command as the OOM killer's preferred victim, so that a memory hog dies before the agent
 * (which holds the sandbox together). Raising one's own processes' score needs no privilege.
 */
export function preferOomKill(pid: number | undefined): void {
  if (pid) writeFile(`/proc/${pid}/oom_score_adj`, '500').catch(() => undefined);
}

/** A clear error for a cwd that is missing or not a folder, before spawn reports a vague ENOENT. */
export function checkCwd(cwd: string): void {
  let isDir = false;
  try {
    isDir = statSync(cwd).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) {
    throw new AgentError(
      'INVALID_ARGUMENT',
      `cwd ${cwd} is not an existing directory`,
      'pass an existing directory (relative paths start at the workdir), or create it first with mkdir -p',
    );
  }
}

export function runCommand(
  args: ExecArgs,
  onOutput?: (stream: 'stdout' | 'stderr', data: string) => void,
): RunningExec {
  checkCwd(args.cwd);
  const started = performance.now();
  const [shell, shellArgs] = shellArgv(args.command);
  const child = spawn(shell, shellArgs, {
    cwd: args.cwd,
    env: args.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  preferOomKill(child.pid);
  const budget = Math.max(512, Math.floor(args.maxOutputBytes / 2));
  const out = new HeadTailCapture(budget);
  const err = new HeadTailCapture(budget);
  let timedOut = false;
  let cancelled = false;

  child.stdout.on('data', (data: Buffer) => {
    out.push(data);
    onOutput?.('stdout', data.toString('utf8'));
  });
  child.stderr.on('data', (data: Buffer) => {
    err.push(data);
    onOutput?.('stderr', data.toString('utf8'));
  });
  child.stdin.on('error', () => {
    /* the command may not read its stdin */
  });
  if (args.stdin !== undefined) child.stdin.end(args.stdin);
  else child.stdin.end();

  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid) killGroup(child.pid);
  }, args.timeoutMs);

  const done = new Promise<ExecOutcome>((resolve, reject) => {
    child.on('error', (errnoException: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(errnoException);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const finish = () => {
        resolve({
          exitCode: code,
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
      // Background children may keep the pipes open: answer after a short drain, and keep reading
      // (and discarding) so they do not die of SIGPIPE.
      let closed = false;
      child.once('close', () => {
        if (!closed) {
          closed = true;
          finish();
        }
      });
      setTimeout(() => {
        if (!closed) {
          closed = true;
          finish();
        }
      }, DRAIN_MS).unref();
    });
  });
  return {
    done,
    cancel() {
      cancelled = true;
      if (child.pid) killGroup(child.pid);
    },
  };
}
