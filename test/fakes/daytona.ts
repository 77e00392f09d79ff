import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { FakeHttp, FakeProc, json, sandboxEnv } from './common.js';

/**
 * A fake of exactly what @daytonaio/sdk calls: the Daytona REST API (create, get, list, delete,
 * preview link, activity) and the toolbox endpoints behind each sandbox's toolboxProxyUrl (process
 * sessions, execute, files). The SDK's Socket.IO connection is not faked: the adapter turns it off.
 * Commands really run, in a folder per sandbox under a temporary directory.
 */
interface Cmd {
  id: string;
  command: string;
  proc: FakeProc;
}
interface FakeSandbox {
  id: string;
  home: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  state: string;
  createdAt: string;
  autoStopInterval: number;
  sessions: Map<string, Map<string, Cmd>>;
  others: Set<FakeProc>;
  /** The create request's body as the SDK sent it (network options included). */
  created: Record<string, unknown>;
}

export class FakeDaytona {
  readonly http = new FakeHttp();
  readonly root = mkdtempSync(path.join(os.tmpdir(), 'fake-daytona-'));
  readonly sandboxes = new Map<string, FakeSandbox>();
  activity = 0;

  constructor(readonly apiKey = 'dtn_fake_key') {}

  get url(): string {
    return this.http.url;
  }

  async start(): Promise<this> {
    await this.http.listen((req, res, body) => this.handle(req, res, body));
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sandboxes.values()) this.kill(s);
    await this.http.close();
    rmSync(this.root, { recursive: true, force: true });
  }

  private kill(s: FakeSandbox): void {
    s.state = 'destroyed';
    const procs = [...s.others, ...[...s.sessions.values()].flatMap((m) => [...m.values()].map((c) => c.proc))];
    for (const p of procs) {
      try {
        p.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  private dto(s: FakeSandbox) {
    return {
      id: s.id,
      name: s.id,
      organizationId: 'org-fake',
      snapshot: 'daytona-default',
      user: 'daytona',
      env: s.env,
      labels: s.labels,
      public: false,
      networkBlockAll: s.created.networkBlockAll === true,
      ...(typeof s.created.networkAllowList === 'string' ? { networkAllowList: s.created.networkAllowList } : {}),
      target: 'us',
      cpu: 1,
      gpu: 0,
      memory: 1,
      disk: 3,
      state: s.state,
      desiredState: s.state,
      errorReason: null,
      backupState: 'None',
      autoStopInterval: s.autoStopInterval,
      autoArchiveInterval: 10080,
      autoDeleteInterval: -1,
      createdAt: s.createdAt,
      updatedAt: new Date().toISOString(),
      toolboxProxyUrl: `${this.url}/toolbox`,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    if (req.headers.authorization !== `Bearer ${this.apiKey}`)
      return json(res, 401, { statusCode: 401, message: 'Invalid credentials', error: 'Unauthorized' });
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === 'toolbox') {
      const s = this.sandboxes.get(parts[1] ?? '');
      if (!s || s.state !== 'started')
        return json(res, 404, { statusCode: 404, message: `sandbox ${parts[1]} not found`, error: 'Not Found' });
      return this.toolbox(s, '/' + parts.slice(2).join('/'), url, req, res, body);
    }
    const b = () => JSON.parse(body.toString() || '{}') as Record<string, unknown>;
    if (parts[0] !== 'sandbox') return json(res, 404, { statusCode: 404, message: `no route ${url.pathname}` });
    if (parts.length === 1 && req.method === 'POST') {
      const p = b();
      const id = randomBytes(8).toString('hex');
      const home = path.join(this.root, id);
      mkdirSync(home, { recursive: true });
      const s: FakeSandbox = {
        id,
        home,
        labels: (p.labels as Record<string, string>) ?? {},
        env: (p.env as Record<string, string>) ?? {},
        state: 'started',
        createdAt: new Date().toISOString(),
        autoStopInterval: Number(p.autoStopInterval ?? 15),
        sessions: new Map(),
        others: new Set(),
        created: p,
      };
      this.sandboxes.set(id, s);
      return json(res, 200, this.dto(s));
    }
    if (parts.length === 1 && req.method === 'GET') {
      const want = JSON.parse(url.searchParams.get('labels') ?? '{}') as Record<string, string>;
      const items = [...this.sandboxes.values()].filter(
        (s) => s.state !== 'destroyed' && Object.entries(want).every(([k, v]) => s.labels[k] === v),
      );
      return json(res, 200, { items: items.map((s) => this.dto(s)), total: items.length, nextCursor: null });
    }
    const s = this.sandboxes.get(parts[1] ?? '');
    if (!s || s.state === 'destroyed')
      return json(res, 404, {
        statusCode: 404,
        message: `Sandbox with ID or name ${parts[1]} not found`,
        error: 'Not Found',
      });
    if (parts.length === 2 && req.method === 'GET') return json(res, 200, this.dto(s));
    if (parts.length === 2 && req.method === 'DELETE') {
      this.kill(s);
      return json(res, 200, this.dto(s));
    }
    if (parts[2] === 'ports' && parts[4] === 'preview-url')
      return json(res, 200, {
        sandboxId: s.id,
        url: `https://${parts[3]}-${s.id}.proxy.daytona.fake`,
        token: `preview-${s.id}`,
      });
    if (parts[2] === 'last-activity') {
      this.activity++;
      res.writeHead(200).end();
      return;
    }
    if (parts[2] === 'toolbox-proxy-url') return json(res, 200, { url: `${this.url}/toolbox` });
    if (parts[2] === 'start') {
      s.state = 'started';
      return json(res, 200, this.dto(s));
    }
    return json(res, 404, { statusCode: 404, message: `no route ${req.method} ${url.pathname}` });
  }

  private async toolbox(
    s: FakeSandbox,
    route: string,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<void> {
    const b = () => JSON.parse(body.toString() || '{}') as Record<string, unknown>;
    const q = (k: string) => url.searchParams.get(k) ?? '';
    const m = /^\/process\/session\/([^/]+)(?:\/(exec|command\/([^/]+)(?:\/(logs|input))?))?$/.exec(route);
    try {
      if (route === '/work-dir' || route === '/user-home-dir') return json(res, 200, { dir: s.home });
      if (route === '/process/session' && req.method === 'POST') {
        s.sessions.set(String(b().sessionId), new Map());
        res.writeHead(201).end();
        return;
      }
      if (route === '/process/execute' && req.method === 'POST') {
        const p = b();
        const proc = new FakeProc(
          '/bin/sh',
          ['-c', String(p.command)],
          String(p.cwd || s.home),
          sandboxEnv(s.home, { ...s.env, ...(p.envs as Record<string, string>) }),
        );
        proc.child.stdin.end();
        s.others.add(proc);
        await new Promise<void>((r) =>
          proc.follow((e) => {
            if ('end' in e) r();
          }),
        );
        s.others.delete(proc);
        const result = Buffer.concat(proc.events.flatMap((e) => ('data' in e ? [e.data] : []))).toString();
        return json(res, 200, { exitCode: proc.exit?.code ?? -1, result });
      }
      if (m) {
        const session = s.sessions.get(m[1]!);
        if (!session) return json(res, 404, { statusCode: 404, message: `session ${m[1]} not found` });
        if (!m[2] && req.method === 'DELETE') {
          for (const c of session.values()) {
            try {
              c.proc.child.kill('SIGKILL');
            } catch {
              /* gone */
            }
          }
          s.sessions.delete(m[1]!);
          res.writeHead(204).end();
          return;
        }
        if (m[2] === 'exec') {
          const p = b();
          const cmd: Cmd = {
            id: randomBytes(6).toString('hex'),
            command: String(p.command),
            proc: new FakeProc('/bin/bash', ['-c', String(p.command)], s.home, sandboxEnv(s.home, s.env)),
          };
          session.set(cmd.id, cmd);
          if (p.runAsync || p.async) return json(res, 202, { cmdId: cmd.id });
          cmd.proc.child.stdin.end();
          await new Promise<void>((r) =>
            cmd.proc.follow((e) => {
              if ('end' in e) r();
            }),
          );
          return json(res, 200, { cmdId: cmd.id, exitCode: exitCode(cmd.proc), ...logs(cmd.proc) });
        }
        const cmd = session.get(m[3] ?? '');
        if (!cmd) return json(res, 404, { statusCode: 404, message: `command ${m[3]} not found` });
        if (m[4] === 'logs') return json(res, 200, logs(cmd.proc));
        if (m[4] === 'input') {
          cmd.proc.child.stdin.write(String(b().data));
          return json(res, 200, {});
        }
        return json(res, 200, {
          id: cmd.id,
          command: cmd.command,
          ...(cmd.proc.exit ? { exitCode: exitCode(cmd.proc) } : {}),
        });
      }
      if (route === '/files/info') return json(res, 200, await info(q('path')));
      if (route === '/files' && req.method === 'GET') {
        const dir = q('path');
        return json(res, 200, await Promise.all((await fs.readdir(dir)).map((n) => info(path.join(dir, n)))));
      }
      if (route === '/files' && req.method === 'DELETE') {
        const st = await fs.lstat(q('path'));
        if (st.isDirectory() && q('recursive') !== 'true')
          return json(res, 400, { statusCode: 400, message: 'directory: use recursive' });
        await fs.rm(q('path'), { recursive: true });
        res.writeHead(204).end();
        return;
      }
      if (route === '/files/folder') {
        await fs.mkdir(q('path'), { recursive: true });
        res.writeHead(201).end();
        return;
      }
      if (route === '/files/move') {
        if (await fs.lstat(q('destination')).catch(() => undefined))
          return json(res, 409, { statusCode: 409, message: 'destination already exists' });
        await fs.rename(q('source'), q('destination'));
        res.writeHead(200).end();
        return;
      }
      if (route === '/files/bulk-upload') {
        const form = await new Response(body, {
          headers: { 'content-type': String(req.headers['content-type']) },
        }).formData();
        const paths = new Map<string, string>();
        const files = new Map<string, Blob>();
        for (const [k, v] of form.entries()) {
          const g = /^files\[(\d+)\]\.(path|file)$/.exec(k);
          if (!g) continue;
          if (g[2] === 'path') paths.set(g[1]!, String(v));
          else files.set(g[1]!, v as Blob);
        }
        for (const [i, blob] of files) {
          const dest = paths.get(i)!;
          await fs.mkdir(path.dirname(dest), { recursive: true });
          await fs.writeFile(dest, Buffer.from(await blob.arrayBuffer()));
        }
        res.writeHead(200).end();
        return;
      }
      if (route === '/files/bulk-download') return download(res, (b().paths as string[]) ?? []);
      return json(res, 404, { statusCode: 404, message: `toolbox route ${req.method} ${route} is not faked` });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const status = code === 'ENOENT' ? 404 : code === 'EEXIST' ? 409 : 400;
      return json(res, status, {
        statusCode: status,
        message: (e as Error).message,
        code: code === 'ENOENT' ? 'FILE_NOT_FOUND' : undefined,
      });
    }
  }
}

function exitCode(p: FakeProc): number {
  return p.exit?.signal ? 128 + (p.exit.signal === 'SIGKILL' ? 9 : 15) : (p.exit?.code ?? -1);
}

function logs(p: FakeProc) {
  const pick = (s?: 'stdout' | 'stderr') =>
    Buffer.concat(p.events.flatMap((e) => ('data' in e && (!s || e.stream === s) ? [e.data] : []))).toString();
  return { output: pick(), stdout: pick('stdout'), stderr: pick('stderr') };
}

async function info(p: string) {
  const st = await fs.stat(p);
  const perm = (st.mode & 0o777).toString(8).padStart(4, '0');
  return {
    name: path.basename(p),
    isDir: st.isDirectory(),
    size: st.size,
    mode: '',
    permissions: perm,
    owner: 'daytona',
    group: 'daytona',
    modTime: st.mtime.toISOString(),
    modifiedAt: st.mtime.toISOString(),
    path: p,
  };
}

/** The multipart answer the SDK parses with busboy: a "file" part per path, or an "error" part. */
async function download(res: ServerResponse, paths: string[]): Promise<void> {
  const boundary = `fake${randomBytes(8).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const p of paths) {
    let name = 'file';
    let type = 'application/octet-stream';
    let data: Buffer;
    try {
      data = await fs.readFile(p);
    } catch (e) {
      name = 'error';
      type = 'application/json';
      const nf = (e as NodeJS.ErrnoException).code === 'ENOENT';
      data = Buffer.from(
        JSON.stringify({
          message: nf ? `file not found: ${p}` : (e as Error).message,
          statusCode: nf ? 404 : 400,
          code: nf ? 'FILE_NOT_FOUND' : 'BAD_REQUEST',
        }),
      );
    }
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${p}"\r\nContent-Type: ${type}\r\nContent-Length: ${data.length}\r\n\r\n`,
      ),
      data,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  const all = Buffer.concat(parts);
  res.writeHead(200, { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': all.length });
  res.end(all);
}
