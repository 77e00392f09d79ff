import { scriptFile } from '../shared/script-file.js';

/**
 * Commands run under a small bash wrapper (scripts/wrapper.sh) that frames the command's stderr: a
 * first line with the command's pid inside the container (or "nocwd"), and a last line with its exit
 * status. The exec API alone cannot tell when the command itself ended: its stream stays open while any
 * background child holds the pipes, and the engine then waits about 2 s before closing it. The frame
 * lines carry a per-command random token, so a command's own output cannot forge them.
 */

/** Names every process of one command (inherited through the environment), so a kill finds them all. */
export const MARKER_ENV = 'SANDBOX_MCP_EXEC';

/** The wrapper's own copy of the token: not MARKER_ENV, so a kill of the command spares the wrapper. */
export const TOKEN_ENV = 'SANDBOX_MCP_TOKEN';

/**
 * scripts/wrapper.sh CWD COMMAND [NAME=value...]: runs the command in its own session (setsid), marked
 * with MARKER_ENV, and frames its output with the token in TOKEN_ENV (the script spells both names).
 */
const wrapperScript = scriptFile(new URL('./scripts/wrapper.sh', import.meta.url));

/** The exec command line that runs `command` in `cwd` with the caller's `env` under the wrapper. */
export function wrapperCmd(cwd: string, command: string, env: Record<string, string> = {}): string[] {
  const vars = Object.entries(env)
    .filter(([k]) => k !== MARKER_ENV && k !== TOKEN_ENV)
    .map(([k, v]) => `${k}=${v}`);
  return ['/bin/bash', '-c', wrapperScript(), 'sandbox-mcp', cwd, command, ...vars];
}

/** scripts/kill.sh TOKEN SIGNAL SESSION: signals every process of one command (MARKER_ENV or its session). */
export const killScript = scriptFile(new URL('./scripts/kill.sh', import.meta.url));

/**
 * scripts/controller.sh: the same kill as a long-lived controller (one per container, started with it)
 * that reads "kill TOKEN SIGNAL SESSION" lines and answers "done TOKEN"; bash builtins only, so it still
 * works when the sandbox has used up its process limit.
 */
export const controllerScript = scriptFile(new URL('./scripts/controller.sh', import.meta.url));

/** After the exit line, wait at most this long for stdout's end line. */
const DRAIN_MS = 2000;

/**
 * A command has ended once both of the wrapper's end lines came: stdout's (written first) and the exit
 * line on stderr. The engine copies the two streams separately, so on a loaded machine the exit line can
 * overtake the command's last output; `ended` runs once, when both came or DRAIN_MS after the exit line.
 */
export class EndLines {
  /** The exit status, once the exit line came. */
  status?: number;
  private stdoutDone = false;
  private fired = false;

  constructor(private readonly ended: (status: number) => void) {}

  exit(status: number): void {
    this.status = status;
    if (this.stdoutDone) this.fire();
    else setTimeout(() => this.fire(), DRAIN_MS).unref();
  }

  stdoutEnded(): void {
    this.stdoutDone = true;
    if (this.status !== undefined) this.fire();
  }

  private fire(): void {
    if (this.fired) return;
    this.fired = true;
    this.ended(this.status!);
  }
}

export type FrameHeader = { pid: number } | 'nocwd';

/** A trailer's value is an exit status or nothing: anything longer is not one of ours. */
const MAX_TRAILER_VALUE = 16;

/**
 * Passes a stream through until the wrapper's trailer (`NUL ESC <token>:<kind>:<value>\n`), which it
 * removes and reports. Bytes that could start a trailer split across chunks are held back: only a
 * trailing NUL can, so streamed text is never delayed.
 */
export class TrailerScanner {
  private held: Buffer = Buffer.alloc(0);
  private done = false;
  private readonly prefix: Buffer;

  constructor(
    token: string,
    kind: 'exit' | 'out',
    private readonly on: { data(chunk: Buffer): void; trailer(value: string): void },
  ) {
    this.prefix = Buffer.from(`\0\x1b${token}:${kind}:`);
  }

  push(chunk: Buffer): void {
    if (this.done) {
      this.on.data(chunk);
      return;
    }
    this.held = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    for (let at = this.held.indexOf(this.prefix); at >= 0; at = this.held.indexOf(this.prefix)) {
      if (at > 0) {
        this.on.data(this.held.subarray(0, at));
        this.held = this.held.subarray(at);
      }
      const end = this.prefix.length + MAX_TRAILER_VALUE;
      const nl = this.held.subarray(0, end + 1).indexOf(10, this.prefix.length);
      if (nl < 0 && this.held.length <= end) return; // the rest of the trailer is on its way
      if (nl < 0) {
        // Too long for the wrapper's trailer (a few digits): the command's own bytes (it can know the
        // token). They pass on as output; holding them until a newline would buffer without bound.
        this.on.data(this.held.subarray(0, this.prefix.length));
        this.held = this.held.subarray(this.prefix.length);
        continue;
      }
      const value = this.held.subarray(this.prefix.length, nl).toString();
      const rest = this.held.subarray(nl + 1);
      this.held = Buffer.alloc(0);
      this.done = true;
      this.on.trailer(value);
      if (rest.length) this.on.data(rest);
      return;
    }
    const emit = this.held.length - this.partialTrailerLength();
    if (emit > 0) {
      this.on.data(this.held.subarray(0, emit));
      this.held = this.held.subarray(emit);
    }
  }

  /** At end of stream: whatever is held back is output. */
  flush(): void {
    if (this.held.length) this.on.data(this.held);
    this.held = Buffer.alloc(0);
    this.done = true;
  }

  /** How many final bytes could start a trailer; the trailer starts with NUL, so text is never held. */
  private partialTrailerLength(): number {
    const from = Math.max(0, this.held.length - this.prefix.length + 1);
    for (let i = this.held.indexOf(0, from); i >= 0; i = this.held.indexOf(0, i + 1)) {
      const tail = this.held.subarray(i);
      if (this.prefix.subarray(0, tail.length).equals(tail)) return tail.length;
    }
    return 0;
  }
}

/** Splits a framed stderr stream into the header, the command's own stderr and the exit status. */
export class StderrFramer {
  private head: Buffer | undefined = Buffer.alloc(0);
  private readonly body: TrailerScanner;

  constructor(
    private readonly token: string,
    private readonly on: {
      header(h: FrameHeader | undefined): void;
      data(chunk: Buffer): void;
      exit(code: number): void;
    },
  ) {
    this.body = new TrailerScanner(token, 'exit', {
      data: on.data,
      trailer: (v) => on.exit(Number.isFinite(Number(v)) ? Number(v) : 1),
    });
  }

  push(chunk: Buffer): void {
    if (!this.head) {
      this.body.push(chunk);
      return;
    }
    const buf = Buffer.concat([this.head, chunk]);
    // The header is normally the first line, but a BASH_ENV script or SHELLOPTS=xtrace given for the
    // command writes before it: the header is the first line that starts with the token.
    const tag = Buffer.from(`${this.token}:`);
    let at = buf.indexOf(tag);
    while (at > 0 && buf[at - 1] !== 10) at = buf.indexOf(tag, at + 1);
    const nl = at < 0 ? -1 : buf.indexOf(10, at);
    if (nl < 0 && buf.length <= 4096) {
      this.head = buf;
      return;
    }
    this.head = undefined;
    const line = nl < 0 ? '' : buf.subarray(at, nl).toString();
    let header: FrameHeader | undefined;
    if (line === `${this.token}:nocwd`) header = 'nocwd';
    else if (line.startsWith(`${this.token}:pid:`)) header = { pid: Number(line.slice(this.token.length + 5)) };
    this.on.header(header);
    // Not our header: the wrapper did not run (no bash in the image, ...); the engine's text stays visible.
    const rest = header ? Buffer.concat([buf.subarray(0, at), buf.subarray(nl + 1)]) : buf;
    if (rest.length) this.body.push(rest);
  }

  flush(): void {
    if (this.head) {
      const pending = this.head;
      this.head = undefined;
      this.on.header(undefined);
      if (pending.length) this.body.push(pending);
    }
    this.body.flush();
  }
}
