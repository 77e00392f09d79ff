import type { Duplex } from 'node:stream';
import type { ProviderName } from '../config.js';
import type { EgressReport, EgressTotals } from '../egress/service.js';

/** The seam every provider implements; tools and sessions see nothing vendor-specific. */
export interface SandboxProvider {
  readonly name: ProviderName;
  /** Describes isolation and limits for sandbox_info and doctor. */
  describe(): ProviderDescription;
  create(opts: CreateOptions): Promise<Sandbox>;
  /** Reattach to a sandbox found by labels (after a restart or from another replica). */
  connect(id: string): Promise<Sandbox>;
  list(labels: Record<string, string>): Promise<SandboxSummary[]>;
  /**
   * Whether this provider keeps files of the named workspace (for this state dir): its folder, its
   * volume, or its cloud sandbox. Creates nothing (sandbox-mcp migrate asks before touching a source).
   */
  workspaceExists(name: string): Promise<boolean>;
  /** Kill sandboxes whose owning server is gone; returns the ids reaped. */
  reapOrphans(): Promise<string[]>;
  /**
   * Providers whose sandboxes outlive their server (see Sandbox.release): a sandbox with these labels
   * that a server now gone left behind, reattached (never one a running server still uses).
   */
  findReleased?(labels: Record<string, string>): Promise<Sandbox | undefined>;
  /**
   * Providers whose previews go through this server (connectPort) and whose sandboxes other replicas
   * make (docker handles): the sandbox behind a preview id that no session of this server holds, if it
   * is one of this deployment's handle sandboxes (never any other id the engine knows).
   */
  previewSandbox?(id: string): Promise<Sandbox | undefined>;
  /** Readiness for /healthz: whether new sandboxes can be created now. Omitted: always ready once started. */
  health?(): Promise<{ ready: boolean; detail?: string }>;
  /** Start work ahead of demand (a warm pool), once the server is serving. */
  warmUp?(): void;
  /** Kill everything this provider started (server shutdown). */
  shutdown(): Promise<void>;
  /**
   * For providers whose previews go through this server's own listener (those with connectPort):
   * how to build a sandbox port's public URL. Set once at start-up by the CLI.
   */
  usePreviewUrls?(urlFor: PreviewUrlBuilder): void;
  /** SANDBOX_NETWORK=egress through this server's proxy: its totals since start (for /metrics). */
  egressTotals?(): EgressTotals | undefined;
  /** The warm pool's size and aim (local), for /metrics. */
  poolStatus?(): { ready: number; starting: number; target: number };
}

/** Builds the URL of a sandbox port served by this server's preview proxy (opens it on demand). */
export type PreviewUrlBuilder = (sandboxId: string, port: number) => Promise<string>;

export interface ProviderDescription {
  provider: ProviderName;
  isolation: string;
  network: string;
  limits: Record<string, string | number>;
  warnings: string[];
}

export interface CreateOptions {
  labels: Record<string, string>;
  envs?: Record<string, string>;
  timeoutMs: number;
  /**
   * A named workspace's sandbox: providers that can keep /workspace beyond the sandbox (a state-dir
   * folder, a named volume) give it the one of this name, so its files survive restarts.
   */
  workspace?: string;
}

export interface SandboxSummary {
  id: string;
  labels: Record<string, string>;
  createdAt: string;
  alive: boolean;
}

export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs: number;
  stdin?: string;
  signal?: AbortSignal;
  /** Called with output as it arrives (progress notifications); optional. */
  onOutput?: (chunk: { stream: 'stdout' | 'stderr'; data: string }) => void;
}

export interface ExecResult {
  exitCode: number | null;
  /** Set when the process died of a signal (timeout kill, OOM, ...). */
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  cancelled: boolean;
  truncated: boolean;
  /** Bytes dropped from the middle of stdout and stderr to respect the output cap. */
  droppedBytes: number;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  name?: string;
}

export interface ProcessInfo {
  processId: string;
  name?: string;
  command: string;
  pid: number;
  running: boolean;
  exitCode: number | null;
  signal: string | null;
  startedAt: string;
  /** Total bytes of output produced so far (the cursor a fresh reader would stop at). */
  outputBytes: number;
}

export interface ReadOptions {
  cursor?: number;
  waitMs?: number;
  /** Stop waiting once the new output matches this regex (source text). */
  until?: string;
  maxBytes: number;
}

export interface ReadResult {
  output: string;
  cursor: number;
  running: boolean;
  exitCode: number | null;
  signal: string | null;
  /** Output that scrolled out of the retained buffer before it was read. */
  droppedBytes: number;
  matched: boolean;
}

export interface ProcessApi {
  spawn(command: string, opts: SpawnOptions): Promise<ProcessInfo>;
  read(processId: string, opts: ReadOptions): Promise<ReadResult>;
  write(processId: string, input: string, close: boolean): Promise<void>;
  kill(processId: string, signal: string): Promise<ProcessInfo>;
  list(): Promise<ProcessInfo[]>;
  /**
   * SIGKILL to every process in the sandbox but its own machinery (agent, init), leftovers of earlier
   * commands included: the way out when they fill the process limit. Returns how many were killed.
   * Absent where the provider cannot scope it to the sandbox.
   */
  killAll?(): Promise<number>;
}

/** What a file holds, judged from its first bytes: UTF-8 text, an image MCP clients can show, or other binary. */
export type FileKind = 'text' | 'image' | 'binary';

export interface FileStat {
  /** Absolute path inside the sandbox. */
  path: string;
  /** lstat semantics: a symlink is reported as 'symlink', with its target text in linkTarget. */
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  mtime: string;
  atime: string;
  ctime: string;
  birthtime: string;
  linkTarget?: string;
  /** Regular files only, when the provider can sniff the first bytes cheaply. */
  kind?: FileKind;
  /** For kind 'image': image/png, image/jpeg, image/gif or image/webp. */
  mimeType?: string;
}

export interface DirEntry {
  name: string;
  type: FileStat['type'];
  size: number;
  mtime: string;
}

export interface ReadTextOptions {
  /** First line to return, 1-based (default 1). */
  offset?: number;
  /** Most lines to return (default: to the end of the file). */
  limit?: number;
  /**
   * Most bytes of text to return. Whole lines only, except when the first line alone is longer:
   * then its first maxBytes bytes (cut on a UTF-8 boundary) are returned.
   */
  maxBytes: number;
}

export interface ReadTextResult {
  /** Absolute path inside the sandbox. */
  path: string;
  size: number;
  kind: FileKind;
  /** Set for kind 'image'. */
  mimeType?: string;
  /** The lines asked for, raw (newlines kept, no numbering); '' unless kind is 'text'. */
  text: string;
  startLine: number;
  /** Last line (partly) included; startLine - 1 when none. */
  endLine: number;
  /** Lines in the whole file (a last line without a newline counts). */
  totalLines: number;
  /** maxBytes stopped the text before `limit` lines or the end of the file. */
  truncated: boolean;
}

export interface TreeOptions {
  /** 1 = the folder's own entries; 2 = also their children; ... */
  depth: number;
  /** Keep entries whose path matches (see FilesApi.tree); folders are still walked. */
  glob?: string;
  /** Include names starting with '.' (default false: counted in hiddenCount instead). */
  includeHidden?: boolean;
  /** Descend into node_modules, .git, __pycache__ and .venv (default false: listed with skipped: true). */
  includeIgnored?: boolean;
  maxEntries: number;
}

export interface TreeEntry {
  /** Relative to the workdir when inside it, else absolute; folders end without '/'. */
  path: string;
  type: FileStat['type'];
  size: number;
  mtime: string;
  linkTarget?: string;
  /** An ignored folder (node_modules, .git, ...) that was not walked. */
  skipped?: boolean;
}

export interface TreeResult {
  /** The listed folder, absolute. */
  root: string;
  /** Sorted by path; parents before children. */
  entries: TreeEntry[];
  /** maxEntries (or the provider's scan cap) stopped the walk early. */
  truncated: boolean;
  /** Hidden entries left out (includeHidden false). */
  hiddenCount: number;
}

export interface SearchOptions {
  /** Folder (or single file) to search; default the workdir. */
  path?: string;
  /** Only files whose path matches (same rules as tree). */
  glob?: string;
  maxResults: number;
  caseSensitive: boolean;
  includeHidden?: boolean;
  /** Stop (with timedOut and the matches so far) after this long. */
  timeoutMs: number;
}

export interface SearchMatch {
  /** Relative to the workdir when inside it, else absolute. */
  path: string;
  line: number;
  /** The matching line, without its newline, shortened if very long. */
  text: string;
}

export interface SearchResult {
  matches: SearchMatch[];
  /** maxResults was reached: more matches exist. */
  truncated: boolean;
  filesSearched: number;
  binarySkipped: number;
  /** Files over the provider's per-file size cap, not searched. */
  largeSkipped: number;
  timedOut: boolean;
}

/**
 * File operations as the sandbox sees them. Paths are absolute inside the sandbox or relative to the
 * workdir; symlinks and `..` must resolve the sandbox's way, so no path ever reaches a host file.
 * Failures are SandboxErrors: NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT (with a hint), PERMISSION_DENIED.
 */
export interface FilesApi {
  /** Raw bytes: `length` bytes from byte `offset` (default the whole file); `size` is the file's size. */
  read(path: string, opts?: { offset?: number; length?: number }): Promise<{ data: Buffer; size: number }>;
  /**
   * Atomic replace (a temporary file beside the target, then rename: a reader sees the old or the new
   * content, never a mix). A string is written as UTF-8. Creates parent folders. A symlink at `path`
   * is followed (its target is written). Keeps an existing file's mode unless `mode` is given; new
   * files get 0644.
   */
  write(path: string, data: Buffer | string, opts?: { mode?: number }): Promise<FileStat>;
  /** lstat: a symlink is described, not followed. */
  stat(path: string): Promise<FileStat>;
  /** One folder's entries, unsorted. */
  list(path: string): Promise<DirEntry[]>;
  mkdir(path: string): Promise<void>;
  /**
   * Deletes a file, symlink (not its target) or, with `recursive`, a folder and its contents.
   * A folder without `recursive` is INVALID_ARGUMENT; the workdir, /, /tmp and home are refused.
   */
  remove(path: string, opts?: { recursive?: boolean }): Promise<void>;
  /**
   * Moves a file or folder, across mounts too (copy then delete). An existing destination is
   * ALREADY_EXISTS unless `overwrite` (a non-empty folder is never overwritten). Creates parents.
   */
  rename(from: string, to: string, opts?: { overwrite?: boolean }): Promise<void>;
  /**
   * Text by lines, computed where the file lives so a range of a huge file does not travel whole.
   * Sniffs the first bytes: for kind 'image' or 'binary' it returns no text (read() the bytes).
   * A folder is INVALID_ARGUMENT.
   */
  readText(path: string, opts: ReadTextOptions): Promise<ReadTextResult>;
  /**
   * Walks a folder breadth-first to `depth`, without following symlinks. Globs: `*` and `?` stay
   * within a name, `**` spans folders, `[abc]`, `{a,b}`; a glob without '/' matches the base name,
   * one with '/' the path relative to the listed folder. A file path is INVALID_ARGUMENT.
   */
  tree(path: string, opts: TreeOptions): Promise<TreeResult>;
  /**
   * Regex search (JavaScript syntax, multiline mode: ^ and $ match at line ends) over text files,
   * one match per line, skipping binary files and the same ignored folders as tree. An invalid
   * pattern or glob is INVALID_ARGUMENT.
   */
  search(pattern: string, opts: SearchOptions): Promise<SearchResult>;
  /**
   * Every entry below a folder (not the folder itself), for whole-workspace copies: hidden and ignored
   * names included, symlinks never followed (described, with their target text), no depth limit,
   * sorted by path. More than `maxEntries` is LIMIT_EXCEEDED. A file path is INVALID_ARGUMENT.
   */
  walk(path: string, opts: { maxEntries: number }): Promise<WalkEntry[]>;
  /**
   * Creates a symlink at `path` holding `target` as it is (never resolved or checked: it may point
   * anywhere, or nowhere). Creates parents. An existing entry at `path` is ALREADY_EXISTS.
   */
  symlink(target: string, path: string): Promise<void>;
  /** Sets the permission bits (mode & 0o7777) of a file or folder; a symlink at `path` is INVALID_ARGUMENT, never followed. */
  chmod(path: string, mode: number): Promise<void>;
  /**
   * Appends bytes to a regular file, created (mode 0600, parents too) when missing, so a big file can
   * travel in chunks; a symlink or folder at `path` is INVALID_ARGUMENT, never followed.
   */
  append(path: string, data: Buffer): Promise<void>;
  /**
   * SHA-256 (hex) of each regular file, in order, computed inside the sandbox (nothing travels but the
   * digests). A path that is not a regular file (a symlink is not followed) is INVALID_ARGUMENT.
   */
  sha256(paths: string[]): Promise<string[]>;
}

export interface WalkEntry {
  /** Relative to the walked folder, '/'-separated. */
  path: string;
  type: FileStat['type'];
  size: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  mtime: string;
  linkTarget?: string;
}

/** Most entries FilesApi.walk lists before LIMIT_EXCEEDED (a workspace's whole tree, node_modules included). */
export const MAX_WALK_ENTRIES = 1_000_000;

/**
 * How the browser service reaches a Chromium that lives in the sandbox (its network, its files).
 * `launch`: Playwright starts `executablePath` (a launcher that enters the sandbox) and speaks CDP over
 * its pipe; `cdp`: a Chromium already listening in the sandbox, reached through a URL (cloud and docker
 * providers, through their port URLs).
 */
export type BrowserEndpoint =
  | { kind: 'launch'; executablePath: string; env: Record<string, string>; args: string[] }
  | {
      kind: 'cdp';
      url: string;
      headers?: Record<string, string>;
      /** Ends that Chromium (and whatever reaches it) once the service is done with it: disconnecting does not. */
      close?: () => Promise<void>;
    };

export interface Sandbox {
  readonly id: string;
  readonly workdir: string;
  readonly provider: ProviderName;
  readonly createdAt: Date;
  exec(command: string, opts: ExecOptions): Promise<ExecResult>;
  readonly processes: ProcessApi;
  readonly files: FilesApi;
  portUrl(port: number): Promise<{ url: string; headers?: Record<string, string> }>;
  /**
   * A byte stream to 127.0.0.1:<port> inside the sandbox, for providers whose sandboxes have no
   * route from the host (the preview proxy pipes HTTP and WebSockets through it). Rejects with
   * NOT_FOUND when nothing listens on that port.
   */
  connectPort?(port: number): Promise<Duplex>;
  /** SANDBOX_NETWORK=egress: the proxy's address, allow list and this sandbox's counters; undefined otherwise. */
  egress?(): EgressReport | undefined;
  keepAlive(ms: number): Promise<void>;
  /** Where a Chromium inside this sandbox can be started or reached; absent: no browser for this provider. */
  browserEndpoint?(opts: { chromiumPath: string }): Promise<BrowserEndpoint>;
  /** False once the sandbox died (killed, crashed, reaped). */
  isAlive(): boolean;
  /**
   * Why a dead sandbox was ended by the server itself, in words for the model (e.g. it broke the
   * agent protocol); undefined when it was not, or while it lives.
   */
  readonly endReason?: string;
  kill(): Promise<void>;
  /**
   * Providers whose sandboxes can outlive the server: let this one go without ending it, kept by the
   * vendor for about `keepMs` (a named workspace at shutdown; the next server reattaches it by labels).
   */
  release?(keepMs: number): Promise<void>;
  /**
   * Providers whose sandboxes other replicas reach (a handle's): this server stops using this one
   * (streams, timers, its entry among the sandboxes shutdown kills) and leaves it running as it is.
   */
  detach?(): void;
}
