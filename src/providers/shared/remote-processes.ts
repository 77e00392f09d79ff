import { SandboxError } from '../../errors.js';
import { translateAgentError } from './agent-errors.js';
import { OutputLog } from '../../agent/output-log.js';
import { newProcessId } from './proc-records.js';
import type { ProcessInfo, ReadOptions, ReadResult } from '../types.js';
import { scriptFile } from './script-file.js';

/** Finished processes kept for shell_read/shell_list before the oldest are forgotten. */
const KEEP_EXITED = 64;

/**
 * A background process of a cloud sandbox as the server sees it: the vendor streams its output to us
 * and we keep it here with absolute byte cursors, exactly like the local agent's process table, so
 * shell_read behaves the same on every provider.
 */
export class RemoteProcess {
  private readonly log = new OutputLog();
  running = true;
  exitCode: number | null = null;
  signal: string | null = null;
  stdinClosed = false;
  readonly startedAt = new Date().toISOString();

  constructor(
    readonly processId: string,
    readonly command: string,
    readonly pid: number,
    readonly name?: string,
  ) {}

  append(data: string | Buffer): void {
    this.log.append(data);
  }

  end(exitCode: number | null, signal: string | null): void {
    if (!this.running) return;
    this.running = false;
    this.exitCode = exitCode;
    this.signal = signal;
    this.log.close();
  }

  async read(readOptions: ReadOptions): Promise<ReadResult> {
    const r = await this.log.read(readOptions).catch((error: unknown) => {
      throw translateAgentError(error);
    });
    return {
      output: r.output,
      cursor: r.cursor,
      running: this.running,
      exitCode: this.exitCode,
      signal: this.signal,
      droppedBytes: r.droppedBytes,
      matched: r.matched,
    };
  }

  info(): ProcessInfo {
    return {
      processId: this.processId,
      name: this.name,
      command: this.command,
      pid: this.pid,
      running: this.running,
      exitCode: this.exitCode,
      signal: this.signal,
      startedAt: this.startedAt,
      outputBytes: this.log.total,
    };
  }
}

export class RemoteProcessTable {
  private procs = new Map<string, RemoteProcess>();
  private next = 1;

  newId(): string {
    return newProcessId(this.next++);
  }

  /** The process of this id or name, if this server follows it (undefined: ask the sandbox). */
  find(idOrName: string): RemoteProcess | undefined {
    return this.procs.get(idOrName) ?? [...this.procs.values()].reverse().find((q) => q.name === idOrName);
  }

  /** Refuses a second running process with the same name, like the local provider. */
  checkName(name: string | undefined): void {
    if (name && [...this.procs.values()].some((p) => p.running && p.name === name)) {
      throw new SandboxError('ALREADY_EXISTS', `a running process is already named "${name}"`, {
        hint: 'pick another name, or shell_kill the running one first',
      });
    }
  }

  add(remoteProcess: RemoteProcess): void {
    this.procs.set(remoteProcess.processId, remoteProcess);
    const exited = [...this.procs.values()].filter((q) => !q.running);
    for (const q of exited.slice(0, Math.max(0, exited.length - KEEP_EXITED))) this.procs.delete(q.processId);
  }

  get(idOrName: string): RemoteProcess {
    const p = this.find(idOrName);
    if (!p) {
      const known = [...this.procs.keys()].join(', ') || 'none';
      throw new SandboxError('NOT_FOUND', `no process "${idOrName}" (known: ${known})`, {
        hint: 'use shell_list to see processes, or shell_start to start one',
      });
    }
    return p;
  }

  all(): RemoteProcess[] {
    return [...this.procs.values()];
  }

  /** Checks before writing to a process's stdin, with the local provider's messages. */
  checkWritable(remoteProcess: RemoteProcess): void {
    if (!remoteProcess.running)
      throw new SandboxError(
        'INVALID_ARGUMENT',
        `${remoteProcess.processId} has exited (code ${remoteProcess.exitCode ?? remoteProcess.signal})`,
        {
          hint: 'start it again with shell_start',
        },
      );
    if (remoteProcess.stdinClosed)
      throw new SandboxError('INVALID_ARGUMENT', `stdin of ${remoteProcess.processId} was already closed`, {
        hint: 'start a new process to send more input',
      });
  }
}

/** Signal names the tools accept, as numbers for a shell `kill -N`. */
export function signalNumber(signal: string): number {
  const table: Record<string, number> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGUSR1: 10,
    SIGUSR2: 12,
    SIGTERM: 15,
    SIGCONT: 18,
    SIGSTOP: 19,
  };
  const n = table[signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`];
  if (!n)
    throw new SandboxError('INVALID_ARGUMENT', `unknown signal ${signal}`, {
      hint: `use one of ${Object.keys(table).join(', ')}`,
    });
  return n;
}

const signalTreeScript = scriptFile(new URL('./scripts/signal-tree.sh', import.meta.url));

/**
 * The shell command that signals a process and all its descendants (scripts/signal-tree.sh): vendors'
 * kill reaches only the pid they started, and grandchildren (a dev server under npm under bash) would
 * survive. `target`: the pid, or a file in the sandbox that holds it (nothing happens without one).
 */
export function treeSignalCommand(sig: number, target: { pid: number } | { pidFile: string }): string {
  const args = 'pid' in target ? [String(sig), String(target.pid)] : [String(sig), '', target.pidFile];
  return `bash -c ${shellQuote(signalTreeScript())} signal-tree ${args.map(shellQuote).join(' ')}`;
}

/** Quotes a string for bash: the vendors run our commands through a shell. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
