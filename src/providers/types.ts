import type { Duplex } from 'node:stream';
import type { ProviderName } from '../config.js';

/** The seam every provider implements; tools and sessions see nothing vendor-specific. */
export interface SandboxProvider {
  readonly name: ProviderName;
  /** Describes isolation and limits for sandbox_info and doctor. */
  describe(): ProviderDescription;
  create(opts: CreateOptions): Promise<Sandbox>;
  /** Reattach to a sandbox found by labels (after a restart or from another replica). */
  connect(id: string): Promise<Sandbox>;
  list(labels: Record<string, string>): Promise<SandboxSummary[]>;
  /** Kill sandboxes whose owning server is gone; returns the ids reaped. */
  reapOrphans(): Promise<string[]>;
  /** Start work ahead of demand (a warm pool), once the server is serving. */
  warmUp?(): void;
  /** Kill everything this provider started (server shutdown). */
  shutdown(): Promise<void>;
}

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
}

export interface FileStat {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mode: number;
  mtime: string;
  atime: string;
  ctime: string;
  birthtime: string;
  linkTarget?: string;
}

export interface DirEntry {
  name: string;
  type: FileStat['type'];
  size: number;
  mtime: string;
}

/** Paths are as the sandbox sees them: absolute, or relative to the workdir. */
export interface FilesApi {
  read(path: string, opts?: { offset?: number; length?: number }): Promise<{ data: Buffer; size: number }>;
  write(path: string, data: Buffer, opts?: { mode?: number }): Promise<FileStat>;
  stat(path: string): Promise<FileStat>;
  list(path: string): Promise<DirEntry[]>;
  mkdir(path: string): Promise<void>;
  remove(path: string, opts?: { recursive?: boolean }): Promise<void>;
  rename(from: string, to: string, opts?: { overwrite?: boolean }): Promise<void>;
}

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
   * Optional: a raw TCP byte stream to `port` on the sandbox's own loopback, opened through the
   * provider (docker: an exec'd bridge; never a container or bridge IP). For the server's preview
   * proxy and browser when the provider has no URL of its own. Rejects with UNAVAILABLE when nothing
   * listens there. Ending the stream half-closes the sending side; destroying it closes the connection.
   */
  connectPort?(port: number): Promise<Duplex>;
  keepAlive(ms: number): Promise<void>;
  /** False once the sandbox died (killed, crashed, reaped). */
  isAlive(): boolean;
  kill(): Promise<void>;
}
