/**
 * Commands run under a small bash wrapper (below) that frames the command's stderr: a first line with
 * the command's pid inside the container (or "nocwd"), and a last line with its exit status. The exec
 * API alone cannot tell when the command itself ended: its stream stays open while any background
 * child holds the pipes, and the engine then waits about 2 s before closing it. The frame lines carry a
 * per-command random token, so a command's own output cannot forge them.
 */

/** Names every process of one command (inherited through the environment), so a kill finds them all. */
export const MARKER_ENV = 'SANDBOX_MCP_EXEC';

/** The wrapper's own copy of the token: not MARKER_ENV, so a kill of the command spares the wrapper. */
export const TOKEN_ENV = 'SANDBOX_MCP_TOKEN';

/**
 * $1 = cwd, $2 = command. The command runs in its own session (setsid), marked with MARKER_ENV; the
 * wrapper outside it survives a kill of the command's tree and reports the status at once.
 */
export const WRAPPER = [
  `cd -- "$1" 2>/dev/null || { printf '%s:nocwd\\n' "$${TOKEN_ENV}" >&2; exit 1; }`,
  `${MARKER_ENV}=$${TOKEN_ENV} setsid -w /bin/bash -c 'printf "%s:pid:%s\\n" "$${MARKER_ENV}" "$$" >&2; exec /bin/bash -c "$1"' sandbox-mcp "$2"`,
  's=$?',
  `printf '\\n%s:exit:%s\\n' "$${TOKEN_ENV}" "$s" >&2`,
  'exit "$s"',
].join('\n');

/**
 * $1 = token, $2 = signal. Signals every process carrying the token in its environment and the process
 * groups they lead or belong to, so children that moved to their own group or session die too.
 */
export const KILL_SCRIPT = [
  'me=$$',
  'for d in /proc/[0-9]*; do',
  '  p=${d#/proc/}; [ "$p" = "$me" ] && continue',
  `  grep -qzxF "${MARKER_ENV}=$1" "$d/environ" 2>/dev/null || continue`,
  '  read -r st < "$d/stat" 2>/dev/null || continue',
  '  f=(${st##*) }); g=${f[2]}',
  '  [ "$g" -gt 1 ] 2>/dev/null && kill -s "$2" -- "-$g" 2>/dev/null',
  '  kill -s "$2" "$p" 2>/dev/null',
  'done',
  'exit 0',
].join('\n');

/**
 * The same kill as a long-lived controller (one per container, started with it) that reads
 * "kill TOKEN SIGNAL" lines and answers "done TOKEN". It uses bash builtins only, never forks, so it
 * still works when the sandbox has used up its process limit (a fork bomb), when no new exec can start.
 */
export const CONTROLLER_SCRIPT = [
  'killmarked() {',
  '  local d p e st f g hit',
  '  for d in /proc/[0-9]*; do',
  '    p=${d#/proc/}; [ "$p" = "$$" ] && continue',
  '    hit=',
  `    while IFS= read -r -d '' e; do [ "$e" = "${MARKER_ENV}=$1" ] && { hit=1; break; }; done < "$d/environ" 2>/dev/null`,
  '    [ -n "$hit" ] || continue',
  '    read -r st < "$d/stat" 2>/dev/null || continue',
  '    f=(${st##*) }); g=${f[2]}',
  '    [ "$g" -gt 1 ] 2>/dev/null && kill -s "$2" -- "-$g" 2>/dev/null',
  '    kill -s "$2" "$p" 2>/dev/null',
  '  done',
  '}',
  'while read -r cmd a b; do',
  '  [ "$cmd" = kill ] && killmarked "$a" "$b"',
  '  printf "done %s\\n" "$a"',
  'done',
].join('\n');

export type FrameHeader = { pid: number } | 'nocwd';

/** Splits a framed stderr stream into the header, the command's own stderr and the exit status. */
export class StderrFramer {
  private phase: 'head' | 'body' | 'after' = 'head';
  private held: Buffer = Buffer.alloc(0);
  private readonly trailer: Buffer;

  constructor(
    private readonly token: string,
    private readonly on: {
      header(h: FrameHeader | undefined): void;
      data(chunk: Buffer): void;
      exit(code: number): void;
    },
  ) {
    this.trailer = Buffer.from(`\n${token}:exit:`);
  }

  push(chunk: Buffer): void {
    if (this.phase === 'after') { this.on.data(chunk); return; }
    this.held = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    if (this.phase === 'head') {
      const nl = this.held.indexOf(10);
      if (nl < 0) {
        if (this.held.length > 4096) this.endHead(undefined, 0);
        return;
      }
      const line = this.held.subarray(0, nl).toString();
      if (line === `${this.token}:nocwd`) this.endHead('nocwd', nl + 1);
      else if (line.startsWith(`${this.token}:pid:`)) this.endHead({ pid: Number(line.slice(this.token.length + 5)) }, nl + 1);
      // Not our header: the wrapper did not run (no bash in the image, ...); the engine's text stays visible.
      else this.endHead(undefined, 0);
      if (this.held.length === 0) return;
    }
    this.scanBody();
  }

  /** At end of stream: whatever is held back is output. */
  flush(): void {
    if (this.phase === 'head' && this.held.length) this.on.header(undefined);
    if (this.held.length) this.on.data(this.held);
    this.held = Buffer.alloc(0);
    this.phase = 'after';
  }

  private endHead(h: FrameHeader | undefined, consumed: number): void {
    this.phase = 'body';
    this.held = this.held.subarray(consumed);
    this.on.header(h);
  }

  private scanBody(): void {
    const at = this.held.indexOf(this.trailer);
    if (at >= 0) {
      const nl = this.held.indexOf(10, at + this.trailer.length);
      if (at > 0) this.on.data(this.held.subarray(0, at));
      if (nl < 0) { this.held = this.held.subarray(at); return; }
      const code = Number(this.held.subarray(at + this.trailer.length, nl).toString());
      const rest = this.held.subarray(nl + 1);
      this.held = Buffer.alloc(0);
      this.phase = 'after';
      this.on.exit(Number.isFinite(code) ? code : 1);
      if (rest.length) this.on.data(rest);
      return;
    }
    // Hold back what could be the start of a trailer split across chunks.
    const keep = Math.min(this.held.length, this.trailer.length - 1);
    const emit = this.held.length - keep;
    if (emit > 0) {
      this.on.data(this.held.subarray(0, emit));
      this.held = this.held.subarray(emit);
    }
  }
}
