import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Pieces shared by the vendor fakes: an HTTP server on 127.0.0.1 only, fault injection (answer the
 * next N matching requests with a status), and real processes run on this machine in a temporary
 * folder standing in for the sandbox.
 */
export interface Fault {
  method: string;
  path: RegExp;
  status: number;
  remaining: number;
  body?: unknown;
}

/** A request answered with a stream of `bytes` bytes, as a hostile in-sandbox daemon would. */
export class Flood {
  /** How many bytes were written before the client hung up (or all of them). */
  written = 0;
  private finished!: () => void;
  /** Settles when the answer ended or the client hung up. */
  readonly done = new Promise<void>((resolve) => (this.finished = resolve));

  constructor(
    readonly method: string,
    readonly path: RegExp,
    readonly bytes: number,
    /**
     * What the answer claims to be, and its first bytes (a stream's framing, say); `hold`: after the
     * prefix, send nothing more and never end (a daemon that keeps a stream open); `fill`: the byte
     * the rest is made of (a space by default; zeros read as empty Connect messages).
     */
    readonly start: { contentType: string; prefix: Buffer; hold?: boolean; fill?: number } = {
      contentType: 'application/json',
      prefix: Buffer.from('{"entries":['),
    },
  ) {}

  /** Writes the bytes with backpressure until all are out or the client is gone. */
  pour(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': this.start.contentType });
    res.write(this.start.prefix);
    this.written = this.start.prefix.length;
    res.on('close', this.finished);
    if (this.start.hold) return;
    const filler = Buffer.alloc(64 * 1024, this.start.fill ?? 0x20);
    const more = (): void => {
      while (this.written < this.bytes && !res.destroyed) {
        this.written += filler.length;
        if (!res.write(filler)) return void res.once('drain', more);
      }
      if (!res.destroyed) res.end(']}');
    };
    more();
  }
}

export class FakeHttp {
  server!: Server;
  url = '';
  readonly faults: Fault[] = [];
  readonly floods: Flood[] = [];
  /** Every request seen, "METHOD /path", for assertions. */
  readonly seen: string[] = [];

  async listen(
    handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<void> | void,
  ): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const pathname = new URL(req.url ?? '/', 'http://x').pathname;
        this.seen.push(`${req.method} ${pathname}`);
        const fault = this.faults.find((f) => f.remaining > 0 && f.method === req.method && f.path.test(pathname));
        if (fault) {
          fault.remaining--;
          return json(res, fault.status, fault.body ?? { code: fault.status, message: `injected ${fault.status}` });
        }
        const flood = this.floods.find((f) => f.written === 0 && f.method === req.method && f.path.test(pathname));
        if (flood) return flood.pour(res);
        Promise.resolve(handler(req, res, Buffer.concat(chunks))).catch((e: Error) => {
          if (!res.headersSent) json(res, 500, { code: 500, message: e.message });
          else res.end();
        });
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** The next `count` requests matching method and path get `status`. */
  fail(method: string, path: RegExp, status: number, count = 1, body?: unknown): void {
    this.faults.push({ method, path, status, remaining: count, body });
  }

  /**
   * The next request matching method and path is answered 200 with `bytes` bytes of filler after
   * `start.prefix` (by default the start of a JSON object), written as fast as the client reads; `written` tells how much it took before hanging up.
   */
  flood(method: string, path: RegExp, bytes: number, start?: Flood['start']): Flood {
    const flood = new Flood(method, path, bytes, start);
    this.floods.push(flood);
    return flood;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': data.length });
  res.end(data);
}

export type OutputEvent =
  { stream: 'stdout' | 'stderr'; data: Buffer } | { end: true; code: number | null; signal: NodeJS.Signals | null };

/** A real process standing in for one started inside a vendor sandbox. */
export class FakeProc {
  readonly child: ChildProcessWithoutNullStreams;
  readonly events: OutputEvent[] = [];
  private listeners = new Set<(e: OutputEvent) => void>();
  exit?: { code: number | null; signal: NodeJS.Signals | null };

  constructor(
    readonly cmd: string,
    readonly args: string[],
    readonly cwd: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(cmd, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin.on('error', () => undefined);
    const push = (e: OutputEvent) => {
      this.events.push(e);
      for (const l of this.listeners) l(e);
    };
    this.child.stdout.on('data', (d: Buffer) => push({ stream: 'stdout', data: d }));
    this.child.stderr.on('data', (d: Buffer) => push({ stream: 'stderr', data: d }));
    this.child.on('error', (e) => push({ stream: 'stderr', data: Buffer.from(`${e.message}\n`) }));
    // Like a vendor daemon: the end comes when the process exits, after a short drain of its pipes
    // (a background grandchild may hold them open for ever).
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.exit) return;
      this.exit = { code, signal };
      push({ end: true, code, signal });
    };
    this.child.on('exit', (code, signal) => setTimeout(() => finish(code, signal), 100));
    this.child.on('close', (code, signal) => finish(code, signal));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Replays past events, then follows new ones until the end. */
  follow(fn: (e: OutputEvent) => void): () => void {
    for (const e of this.events) fn(e);
    if (this.exit) return () => undefined;
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** The environment a fake sandbox's commands get: a clean one, with HOME as the sandbox folder. */
export function sandboxEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    USER: 'user',
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    ...extra,
  };
}
