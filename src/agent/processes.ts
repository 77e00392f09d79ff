import { readdirSync } from 'node:fs';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { AgentError } from './errors.js';
import { checkCwd, killGroup, preferOomKill, shellArgv } from './exec.js';
import { OutputLog } from './output-log.js';

/** Input a process has not read yet, held for it at most (a process that never reads would grow it forever). */
const MAX_PENDING_INPUT = 16 * 1024 * 1024;

/** Finished processes kept for shell_read/shell_list before the oldest are forgotten. */
const KEEP_EXITED = 64;

interface Proc {
  processId: string;
  name?: string;
  command: string;
  child: ChildProcessWithoutNullStreams;
  startedAt: string;
  log: OutputLog;
  exitCode: number | null;
  signal: string | null;
  running: boolean;
}

export class ProcessTable {
  private procs = new Map<string, Proc>();
  private next = 1;

  spawn(args: { command: string; cwd: string; env: Record<string, string>; name?: string }) {
    checkCwd(args.cwd);
    if (args.name && [...this.procs.values()].some((p) => p.running && p.name === args.name)) {
      throw new AgentError(
        'ALREADY_EXISTS',
        `a running process is already named "${args.name}"`,
        'pick another name, or shell_kill the running one first',
      );
    }
    const [shell, shellArgs] = shellArgv(args.command);
    const child = spawn(shell, shellArgs, {
      cwd: args.cwd,
      env: args.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    preferOomKill(child.pid);
    const p: Proc = {
      processId: `proc-${this.next++}`,
      name: args.name,
      command: args.command,
      child,
      startedAt: new Date().toISOString(),
      log: new OutputLog(),
      exitCode: null,
      signal: null,
      running: true,
    };
    const onData = (c: Buffer) => p.log.append(c);
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.stdin.on('error', () => {
      /* the process closed its stdin */
    });
    child.on('error', (error) => {
      onData(Buffer.from(`[spawn failed: ${error.message}]\n`));
    });
    child.on('exit', (code, signal) => {
      p.running = false;
      p.exitCode = code;
      p.signal = signal;
      p.log.close();
      this.forgetOldExited();
    });
    this.procs.set(p.processId, p);
    return this.info(p);
  }

  async read(args: { processId: string; cursor?: number; waitMs?: number; until?: string; maxBytes: number }) {
    const p = this.get(args.processId);
    const r = await p.log.read(args);
    return {
      output: r.output,
      cursor: r.cursor,
      running: p.running,
      exitCode: p.exitCode,
      signal: p.signal,
      droppedBytes: r.droppedBytes,
      matched: r.matched,
    };
  }

  write(args: { processId: string; input: string; close: boolean }) {
    const p = this.get(args.processId);
    if (!p.running)
      throw new AgentError(
        'INVALID_ARGUMENT',
        `${p.processId} has exited (code ${p.exitCode ?? p.signal})`,
        'start it again with shell_start',
      );
    if (p.child.stdin.writableEnded)
      throw new AgentError(
        'INVALID_ARGUMENT',
        `stdin of ${p.processId} was already closed`,
        'start a new process to send more input',
      );
    if (args.input) {
      const pending = p.child.stdin.writableLength;
      if (pending + Buffer.byteLength(args.input) > MAX_PENDING_INPUT) {
        throw new AgentError(
          'LIMIT_EXCEEDED',
          `${p.processId} is not reading its input: ${pending} bytes sent earlier are still waiting`,
          'see what it is doing with shell_read, or stop it with shell_kill',
        );
      }
      p.child.stdin.write(args.input);
    }
    if (args.close) p.child.stdin.end();
  }

  /**
   * Kills every other process of the sandbox's pid namespace (not its init, pid 1): background
   * processes, leftovers of earlier commands, a fork bomb. Only used where the agent has its own pid
   * namespace. Signals need no fork, so this works when the process limit is used up. Repeats while it
   * finds survivors (a fork bomb spawns between passes).
   */
  killEverything(): { killed: number } {
    const killed = new Set<number>();
    for (let pass = 0; pass < 20; pass++) {
      let found = 0;
      for (const name of readdirSync('/proc')) {
        const pid = Number(name);
        // The parent is the agent's native front when there is one (it holds the channel to the server).
        if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || pid === process.ppid) continue;
        try {
          process.kill(pid, 'SIGKILL');
          found++;
          killed.add(pid);
        } catch {
          /* gone, or not ours */
        }
      }
      if (!found) break;
    }
    return { killed: killed.size };
  }

  kill(args: { processId: string; signal: string }) {
    const p = this.get(args.processId);
    if (p.running && p.child.pid) killGroup(p.child.pid, args.signal as NodeJS.Signals);
    return this.info(p);
  }

  list() {
    return [...this.procs.values()].map((p) => this.info(p));
  }

  killBackground() {
    for (const p of this.procs.values()) if (p.running && p.child.pid) killGroup(p.child.pid);
  }

  private get(idOrName: string): Proc {
    const p = this.procs.get(idOrName) ?? [...this.procs.values()].reverse().find((q) => q.name === idOrName);
    if (!p) {
      const known = [...this.procs.keys()].join(', ') || 'none';
      throw new AgentError(
        'NOT_FOUND',
        `no process "${idOrName}" (known: ${known})`,
        'use shell_list to see processes, or shell_start to start one',
      );
    }
    return p;
  }

  private forgetOldExited() {
    const exited = [...this.procs.values()].filter((p) => !p.running);
    for (const p of exited.slice(0, Math.max(0, exited.length - KEEP_EXITED))) this.procs.delete(p.processId);
  }

  private info(proc: Proc) {
    return {
      processId: proc.processId,
      name: proc.name,
      command: proc.command,
      pid: proc.child.pid ?? -1,
      running: proc.running,
      exitCode: proc.exitCode,
      signal: proc.signal,
      startedAt: proc.startedAt,
      outputBytes: proc.log.total,
    };
  }
}
