import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { FakeHttp, FakeProc, json, sandboxEnv, type OutputEvent } from './common.js';

/**
 * A fake of exactly what the e2b SDK calls: the E2B API (create, connect, kill, list, timeout, info)
 * and envd, the in-sandbox daemon (Connect RPC with JSON for process.Process and
 * filesystem.Filesystem, plain HTTP GET/POST /files). One port serves both: the SDK is pointed at it
 * with apiUrl and sandboxUrl, and envd requests name their sandbox in the E2b-Sandbox-Id header.
 * Commands really run, in a folder per sandbox under a temporary directory.
 */
interface FakeSandbox {
  id: string;
  home: string;
  metadata: Record<string, string>;
  envs: Record<string, string>;
  startedAt: Date;
  timeoutS: number;
  /** Like E2B, the sandbox ends at its timeout unless renewed. */
  endAt: number;
  alive: boolean;
  procs: Map<number, FakeProc>;
  /** The create request's body as the SDK sent it (network options included). */
  created: Record<string, unknown>;
}

export class FakeE2B {
  readonly http = new FakeHttp();
  readonly root = mkdtempSync(path.join(os.tmpdir(), 'fake-e2b-'));
  readonly sandboxes = new Map<string, FakeSandbox>();

  constructor(readonly apiKey = 'e2b_fake_key') {}

  get url(): string {
    return this.http.url;
  }

  async start(): Promise<this> {
    await this.http.listen((req, res, body) => this.handle(req, res, body));
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sandboxes.values()) this.killSandbox(s);
    await this.http.close();
    rmSync(this.root, { recursive: true, force: true });
  }

  private killSandbox(s: FakeSandbox): void {
    s.alive = false;
    for (const p of s.procs.values()) {
      try {
        p.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    for (const s of this.sandboxes.values()) if (s.alive && Date.now() > s.endAt) this.killSandbox(s);
    const url = new URL(req.url ?? '/', 'http://x');
    const sandboxId = req.headers['e2b-sandbox-id'];
    if (typeof sandboxId === 'string') return this.envd(sandboxId, url, req, res, body);
    if (req.headers['x-api-key'] !== this.apiKey) return json(res, 401, { code: 401, message: 'Invalid API key' });
    const m = (re: RegExp) => re.exec(url.pathname);
    let g: RegExpExecArray | null;
    if (req.method === 'POST' && url.pathname === '/v2/sandboxes') {
      const b = JSON.parse(body.toString() || '{}') as {
        templateID?: string;
        metadata?: Record<string, string>;
        envVars?: Record<string, string>;
        timeout?: number;
      };
      const id = `i${randomBytes(10).toString('hex')}`;
      const home = path.join(this.root, id);
      mkdirSync(home, { recursive: true });
      const s: FakeSandbox = {
        id,
        home,
        metadata: b.metadata ?? {},
        envs: b.envVars ?? {},
        startedAt: new Date(),
        timeoutS: b.timeout ?? 15,
        endAt: Date.now() + (b.timeout ?? 15) * 1000,
        alive: true,
        procs: new Map(),
        created: b,
      };
      this.sandboxes.set(id, s);
      return json(res, 201, this.describe(s));
    }
    if (req.method === 'GET' && url.pathname === '/v2/sandboxes') {
      const want = new URLSearchParams(url.searchParams.get('metadata') ?? '');
      const list = [...this.sandboxes.values()].filter(
        (s) => s.alive && [...want].every(([k, v]) => s.metadata[k] === v),
      );
      return json(
        res,
        200,
        list.map((s) => ({
          ...this.describe(s),
          startedAt: s.startedAt.toISOString(),
          endAt: new Date(s.startedAt.getTime() + s.timeoutS * 1000).toISOString(),
          state: 'running',
          cpuCount: 2,
          memoryMB: 512,
          metadata: s.metadata,
        })),
      );
    }
    if ((g = m(/^\/v2\/sandboxes\/([^/]+)\/connect$/)) && req.method === 'POST') {
      const s = this.sandboxes.get(g[1]!);
      if (!s?.alive) return json(res, 404, { code: 404, message: `sandbox ${g[1]} not found` });
      return json(res, 200, this.describe(s));
    }
    if ((g = m(/^\/sandboxes\/([^/]+)\/timeout$/)) && req.method === 'POST') {
      const s = this.sandboxes.get(g[1]!);
      if (!s?.alive) return json(res, 404, { code: 404, message: `sandbox ${g[1]} not found` });
      s.timeoutS = (JSON.parse(body.toString() || '{}') as { timeout?: number }).timeout ?? s.timeoutS;
      s.endAt = Date.now() + s.timeoutS * 1000;
      res.writeHead(204).end();
      return;
    }
    if ((g = m(/^\/sandboxes\/([^/]+)$/))) {
      const s = this.sandboxes.get(g[1]!);
      if (!s?.alive) return json(res, 404, { code: 404, message: `sandbox ${g[1]} not found` });
      if (req.method === 'DELETE') {
        this.killSandbox(s);
        res.writeHead(204).end();
        return;
      }
      return json(res, 200, {
        ...this.describe(s),
        startedAt: s.startedAt.toISOString(),
        endAt: new Date(Date.now() + s.timeoutS * 1000).toISOString(),
        state: 'running',
        cpuCount: 2,
        memoryMB: 512,
        metadata: s.metadata,
      });
    }
    json(res, 404, { code: 404, message: `no route ${req.method} ${url.pathname}` });
  }

  private describe(s: FakeSandbox) {
    return {
      sandboxID: s.id,
      templateID: 'base',
      clientID: 'fake',
      envdVersion: '0.5.7',
      envdAccessToken: `tok-${s.id}`,
      domain: null,
      metadata: s.metadata,
    };
  }

  // ---- envd ----

  private async envd(id: string, url: URL, req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const s = this.sandboxes.get(id);
    // E2B's edge answers 502 for a sandbox that is gone; the SDK reads it as "not running anymore".
    if (!s?.alive) return json(res, 502, { code: 502, message: `The sandbox ${id} was not found` });
    if (req.headers['x-access-token'] !== `tok-${id}`)
      return json(res, 401, { code: 'unauthenticated', message: 'bad access token' });
    if (url.pathname === '/health') {
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/files') return this.files(s, url, req, res, body);
    const rpc = /^\/(process\.Process|filesystem\.Filesystem)\/(\w+)$/.exec(url.pathname);
    if (!rpc || req.method !== 'POST')
      return json(res, 404, { code: 'unimplemented', message: `no envd route ${url.pathname}` });
    const streaming = String(req.headers['content-type']).startsWith('application/connect+json');
    const msg = JSON.parse((streaming ? body.subarray(5) : body).toString() || '{}') as Record<string, unknown>;
    if (rpc[1] === 'process.Process') return this.process(s, rpc[2]!, msg, res);
    return this.filesystem(s, rpc[2]!, msg, res);
  }

  private async process(
    s: FakeSandbox,
    method: string,
    msg: Record<string, unknown>,
    res: ServerResponse,
  ): Promise<void> {
    const pidOf = () => Number(((msg.process as { pid?: number | string }) ?? {}).pid);
    const procOr404 = () => {
      const p = s.procs.get(pidOf());
      if (!p) json(res, 404, { code: 'not_found', message: `process ${pidOf()} not found` });
      return p;
    };
    switch (method) {
      case 'Start': {
        const cfg = msg.process as { cmd: string; args?: string[]; envs?: Record<string, string>; cwd?: string };
        const p = new FakeProc(
          cfg.cmd,
          cfg.args ?? [],
          cfg.cwd ?? s.home,
          sandboxEnv(s.home, { ...s.envs, ...cfg.envs }),
        );
        if (!msg.stdin) p.child.stdin.end();
        s.procs.set(p.pid, p);
        return this.stream(res, p);
      }
      case 'Connect': {
        const p = procOr404();
        if (p) this.stream(res, p);
        return;
      }
      case 'List':
        return json(res, 200, {
          processes: [...s.procs.values()]
            .filter((p) => !p.exit)
            .map((p) => ({ pid: p.pid, config: { cmd: p.cmd, args: p.args, envs: {}, cwd: p.cwd } })),
        });
      case 'SendInput': {
        const p = procOr404();
        if (!p) return;
        p.child.stdin.write(Buffer.from(((msg.input as { stdin?: string }) ?? {}).stdin ?? '', 'base64'));
        return json(res, 200, {});
      }
      case 'CloseStdin': {
        const p = procOr404();
        if (!p) return;
        p.child.stdin.end();
        return json(res, 200, {});
      }
      case 'SendSignal': {
        const p = procOr404();
        if (!p) return;
        const sig = msg.signal === 'SIGNAL_SIGTERM' || msg.signal === 15 ? 'SIGTERM' : 'SIGKILL';
        try {
          p.child.kill(sig);
        } catch {
          /* gone */
        }
        return json(res, 200, {});
      }
      default:
        return json(res, 404, { code: 'unimplemented', message: `process.${method} is not faked` });
    }
  }

  /** A Connect server stream: enveloped JSON frames, the last one flagged 0x02. */
  private stream(res: ServerResponse, p: FakeProc): void {
    res.writeHead(200, { 'content-type': 'application/connect+json' });
    const frame = (flags: number, obj: unknown) => {
      const data = Buffer.from(JSON.stringify(obj));
      const head = Buffer.alloc(5);
      head.writeUInt8(flags, 0);
      head.writeUInt32BE(data.length, 1);
      res.write(Buffer.concat([head, data]));
    };
    frame(0, { event: { start: { pid: p.pid } } });
    const stop = p.follow((e: OutputEvent) => {
      if ('end' in e) {
        const end = e.signal
          ? {
              exitCode: -1,
              exited: false,
              status: `signal: ${e.signal === 'SIGKILL' ? 'killed' : 'terminated'}`,
              error: `signal: ${e.signal === 'SIGKILL' ? 'killed' : 'terminated'}`,
            }
          : { exitCode: e.code ?? 0, exited: true, status: `exit status ${e.code}` };
        frame(0, { event: { end: end } });
        frame(2, {});
        res.end();
      } else {
        frame(0, { event: { data: { [e.stream]: e.data.toString('base64') } } });
      }
    });
    res.on('close', stop);
  }

  private async filesystem(
    s: FakeSandbox,
    method: string,
    msg: Record<string, unknown>,
    res: ServerResponse,
  ): Promise<void> {
    try {
      switch (method) {
        case 'Stat':
          return json(res, 200, { entry: await entry(String(msg.path)) });
        case 'ListDir': {
          const dir = String(msg.path);
          const names = await fs.readdir(dir);
          return json(res, 200, { entries: await Promise.all(names.map((n) => entry(path.join(dir, n)))) });
        }
        case 'MakeDir': {
          const dir = String(msg.path);
          if (await fs.lstat(dir).catch(() => undefined))
            return json(res, 409, { code: 'already_exists', message: `${dir} already exists` });
          await fs.mkdir(dir, { recursive: true });
          return json(res, 200, { entry: await entry(dir) });
        }
        case 'Remove':
          await fs.rm(String(msg.path), { recursive: true });
          return json(res, 200, {});
        case 'Move': {
          const to = String(msg.destination);
          await fs.mkdir(path.dirname(to), { recursive: true });
          await fs.rename(String(msg.source), to);
          return json(res, 200, { entry: await entry(to) });
        }
        default:
          return json(res, 404, { code: 'unimplemented', message: `filesystem.${method} is not faked` });
      }
    } catch (e) {
      return rpcError(res, e);
    }
  }

  private async files(
    s: FakeSandbox,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<void> {
    const file = url.searchParams.get('path') ?? '';
    try {
      if (req.method === 'GET') {
        const st = await fs.stat(file);
        if (st.isDirectory()) return json(res, 400, { code: 400, message: `path '${file}' is a directory` });
        const data = await fs.readFile(file);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
        res.end(data);
        return;
      }
      if (req.method === 'POST') {
        const form = await new Response(body, {
          headers: { 'content-type': String(req.headers['content-type']) },
        }).formData();
        const out = [];
        for (const [, value] of form.entries()) {
          if (typeof value === 'string') continue;
          const target = file || value.name;
          await fs.mkdir(path.dirname(target), { recursive: true });
          await fs.writeFile(target, Buffer.from(await value.arrayBuffer()));
          out.push({ name: path.basename(target), type: 'file', path: target });
        }
        return json(res, 200, out);
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return json(res, code === 'ENOENT' ? 404 : 400, {
        code: code === 'ENOENT' ? 404 : 400,
        message: (e as Error).message,
      });
    }
    json(res, 405, { code: 405, message: 'method not allowed' });
  }
}

async function entry(p: string) {
  const st = await fs.lstat(p);
  const type = st.isSymbolicLink() ? 'FILE_TYPE_SYMLINK' : st.isDirectory() ? 'FILE_TYPE_DIRECTORY' : 'FILE_TYPE_FILE';
  return {
    name: path.basename(p),
    type,
    path: p,
    size: String(st.size),
    mode: st.mode & 0o7777,
    permissions: '',
    owner: 'user',
    group: 'user',
    modifiedTime: st.mtime.toISOString(),
    ...(st.isSymbolicLink() ? { symlinkTarget: await fs.readlink(p) } : {}),
  };
}

function rpcError(res: ServerResponse, e: unknown): void {
  const code = (e as NodeJS.ErrnoException).code;
  const map: Record<string, [number, string]> = {
    ENOENT: [404, 'not_found'],
    EEXIST: [409, 'already_exists'],
    ENOTDIR: [400, 'invalid_argument'],
    EISDIR: [400, 'invalid_argument'],
    ENOTEMPTY: [400, 'invalid_argument'],
  };
  const [status, c] = map[code ?? ''] ?? [500, 'internal'];
  json(res, status, { code: c, message: (e as Error).message });
}
