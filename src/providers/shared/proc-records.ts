import { createHash, randomBytes } from 'node:crypto';
import { SandboxError } from '../../errors.js';
import { utf8Prefix } from '../../agent/output-log.js';
import { shellQuote as q, signalNumber } from './remote-processes.js';
import { scriptFile } from './script-file.js';
import type { ProcessInfo, ReadOptions, ReadResult } from '../types.js';

/** scripts/proc.sh: how a process is recorded inside the sandbox, and read back by any replica. */
const procScript = scriptFile(new URL('./scripts/proc.sh', import.meta.url));
/** A processId: proc-N (this server's counter) and 32 random bits, so replicas never pick the same one. */
const PROCESS_ID = /^proc-\d{1,9}-[0-9a-f]{8}$/;
const POLL_MS = 250;
/** How long a well-formed processId with no record yet is waited for (its start may be racing this call). */
const RECORD_GRACE_MS = 2000;
/** Largest piece one read takes from the log (base64 on the way). */
const MAX_PIECE = 1024 * 1024;

/** Runs `bash -c <script> ...args` in the sandbox and returns its stdout and exit code. */
export type ScriptRunner = (command: string) => Promise<{ stdout: string; exitCode: number }>;

/** A process as its record in the sandbox describes it. */
interface Record {
  processId: string;
  running: boolean;
  exitCode: number | null;
  signal: string | null;
  pid: number;
  size: number;
  command: string;
  name?: string;
  startedAt: string;
  /** The docker provider's kill token of the process (its MARKER_ENV value), so any replica can kill its whole tree. */
  token?: string;
}

const TOKEN = /^[0-9a-f]{24}$/;

export function newProcessId(counter: number): string {
  return `proc-${counter}-${randomBytes(4).toString('hex')}`;
}

/**
 * Process records in the sandbox (scripts/proc.sh): a process started through one replica writes its
 * output to a log in the sandbox as well as to the stream its server follows, so every other replica
 * reads it from a byte cursor (the same bytes in the same order: one tee), signals it and lists it.
 * Nothing about the process lives only in the starting server's memory.
 */
export class ProcRecords {
  readonly dir: string;

  /** `sandboxId` names the folder, so sandboxes that share a /tmp (the tests' fakes) keep theirs apart. */
  constructor(
    sandboxId: string,
    private readonly run: ScriptRunner,
  ) {
    this.dir = `/tmp/.sandbox-mcp-procs-${createHash('sha256').update(sandboxId).digest('hex').slice(0, 12)}`;
  }

  /**
   * The command that runs `command` recorded as `processId` (started by the vendor with stdin open).
   * `token`: the docker provider's kill token, recorded for the replicas that did not start it.
   */
  wrap(processId: string, command: string, name?: string, token?: string): string {
    const meta = Buffer.from(JSON.stringify({ command, name, startedAt: new Date().toISOString(), token })).toString(
      'base64',
    );
    return this.script('run', processId, meta, command);
  }

  private script(...args: string[]): string {
    return `bash -c ${q(procScript())} proc.sh ${[args[0]!, this.dir, ...args.slice(1)].map(q).join(' ')}`;
  }

  /** Whether `idOrName` could be a process of another replica (ours have this shape). */
  static plausible(idOrName: string): boolean {
    return PROCESS_ID.test(idOrName) || /^[\w.-]{1,128}$/.test(idOrName);
  }

  /** The record of a process by id or name (the latest of that name, running ones first); undefined if none. */
  async find(idOrName: string): Promise<Record | undefined> {
    if (!ProcRecords.plausible(idOrName)) return undefined;
    if (PROCESS_ID.test(idOrName)) {
      // A process another replica started a moment ago may not have written its record yet: the vendor
      // reports it started before the script inside has run its first lines.
      const deadline = Date.now() + RECORD_GRACE_MS;
      for (;;) {
        const r = await this.run(this.script('read', idOrName, '0', '0'));
        if (r.exitCode === 0) return parseRecord(idOrName, r.stdout.split('\n'));
        if (Date.now() >= deadline) return undefined;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    }
    const named = (await this.list()).filter((p) => p.name === idOrName);
    return named.find((p) => p.running) ?? named.at(-1);
  }

  async list(): Promise<Record[]> {
    const r = await this.run(this.script('list'));
    const out: Record[] = [];
    for (const line of r.stdout.split('\n')) {
      const m = /^(\S+) (\S+ \S+ \S+) (.*)$/.exec(line.trim());
      const rec = m && PROCESS_ID.test(m[1]!) ? parseRecord(m[1]!, [m[2]!, m[3]!]) : undefined;
      if (rec) out.push(rec);
    }
    return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  /** shell_read from the log in the sandbox, polling while it waits for output (or for `until`). */
  async read(processId: string, readOptions: ReadOptions): Promise<ReadResult> {
    let until: RegExp | undefined;
    try {
      until = readOptions.until ? new RegExp(readOptions.until, 'm') : undefined;
    } catch (e) {
      throw new SandboxError('INVALID_ARGUMENT', `invalid until regex: ${(e as Error).message}`, {
        hint: 'pass a JavaScript regular expression, e.g. "listening on"',
      });
    }
    const cursor = readOptions.cursor ?? 0;
    const deadline = Date.now() + (readOptions.waitMs ?? 0);
    for (;;) {
      const r = await this.run(
        this.script('read', processId, String(cursor), String(Math.min(readOptions.maxBytes, MAX_PIECE))),
      );
      const lines = r.stdout.split('\n');
      const rec = r.exitCode === 0 ? parseRecord(processId, lines) : undefined;
      if (!rec) throw notFound(processId);
      let piece = Buffer.from(lines[2] ?? '', 'base64');
      const whole = utf8Prefix(piece);
      if (whole > 0 || rec.running) piece = piece.subarray(0, whole);
      const output = piece.toString('utf8');
      const matched = until ? until.test(output) : false;
      const done = until ? matched : output.length > 0;
      if (done || !rec.running || Date.now() + POLL_MS > deadline) {
        return {
          output,
          cursor: Math.min(cursor, rec.size) + piece.length,
          running: rec.running,
          exitCode: rec.exitCode,
          signal: rec.signal,
          droppedBytes: 0,
          matched,
        };
      }
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
  }

  /** Signals a recorded process and its descendants; the signal is recorded for the others to report. */
  async kill(processId: string, signal: string): Promise<void> {
    const n = signalNumber(signal);
    // A kill right after the start may come before proc.sh has written the record: the same grace as find.
    const deadline = Date.now() + RECORD_GRACE_MS;
    for (;;) {
      const r = await this.run(this.script('kill', processId, String(n), signalName(signal)));
      if (r.exitCode !== 3) return;
      if (Date.now() >= deadline) throw notFound(processId);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Records that `signal` was sent (unless the process exited), for a caller that signals it by other means. */
  async mark(processId: string, signal: string): Promise<void> {
    signalNumber(signal); // refuses unknown names, as kill does
    const r = await this.run(this.script('mark', processId, signalName(signal)));
    if (r.exitCode === 3) throw notFound(processId);
  }

  static info(rec: Record): ProcessInfo {
    const { processId, name, command, pid, running, exitCode, signal, startedAt, size } = rec;
    return { processId, name, command, pid, running, exitCode, signal, startedAt, outputBytes: size };
  }
}

function signalName(signal: string): string {
  return signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
}

function notFound(idOrName: string): SandboxError {
  return new SandboxError('NOT_FOUND', `no process "${idOrName}" in this sandbox`, {
    hint: 'use shell_list to see processes, or shell_start to start one',
  });
}

/** `state pid size` and the meta line, as proc.sh prints them; what the sandbox wrote is untrusted. */
function parseRecord(processId: string, lines: string[]): Record | undefined {
  const [state, pid, size] = (lines[0] ?? '').split(' ');
  let meta: { command?: unknown; name?: unknown; startedAt?: unknown; token?: unknown };
  try {
    meta = JSON.parse(lines[1] ?? '') as typeof meta;
  } catch {
    return undefined;
  }
  if (!state || typeof meta !== 'object' || meta === null) return undefined;
  const exit = /^exit:(\d+)$/.exec(state);
  const dead = /^dead:(SIG[A-Z0-9]+)?$/.exec(state);
  const code = exit ? Number(exit[1]) : null;
  // bash reports a death by signal N as 128+N.
  const bySignal = code !== null && code > 128 && code < 160;
  return {
    processId,
    running: state === 'running',
    exitCode: bySignal ? null : code,
    signal: dead ? (dead[1] ?? 'SIGKILL') : bySignal ? `SIG${code - 128}` : null,
    pid: Number(pid) || -1,
    size: Number(size) || 0,
    command: typeof meta.command === 'string' ? meta.command.slice(0, 10_000) : '',
    name: typeof meta.name === 'string' ? meta.name.slice(0, 128) : undefined,
    startedAt: typeof meta.startedAt === 'string' ? meta.startedAt.slice(0, 40) : '',
    token: typeof meta.token === 'string' && TOKEN.test(meta.token) ? meta.token : undefined,
  };
}
