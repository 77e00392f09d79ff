import { existsSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, refOf, snapshotOf } from './browser-helpers.js';
import {
  call,
  httpClient,
  sh,
  startHttpServer,
  stdioClient,
  tempDir,
  text,
  type HttpServer,
  type ToolResult,
} from './helpers.js';
import { fetchHost, hostOf } from './web-helpers.js';

/** A server inside the sandbox that redirects the way dev servers configured with a base URL do. */
const REDIRECTOR = `
require('http').createServer((q, r) => {
  const to = { '/login': 'http://localhost:' + process.env.PORT + '/form?next=%2F', '/api': 'http://127.0.0.1:5173/v1', '/ext': 'https://example.com/x', '/rel': '/form' }[q.url];
  if (to) { r.writeHead(302, { location: to }); return r.end(); }
  r.end('page ' + q.url);
}).listen(Number(process.env.PORT), () => console.log('ready'));
`;

describe('web edge cases: sites, previews, browser edge cases', () => {
  let state: ReturnType<typeof tempDir>;
  let server: HttpServer;
  let client: Client;
  let siteHost = '';
  const get = (host: string, p = '/', headers: Record<string, string> = {}) => fetchHost(server.port, host, p, headers);

  beforeAll(async () => {
    state = tempDir('sbx-review-web-');
    // No disk image: the rollback case needs the sandbox's workspace to be a host folder under the state dir.
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_DISK_MB: '0' });
    ({ client } = await httpClient(server.url));
    await sh(
      client,
      [
        'mkdir -p out/日本 out/café out/sub out/evil.com',
        'echo "<h1>home</h1>" > out/index.html',
        'echo "console.log(1)" > out/a.js',
        'echo jp > out/日本/index.html && echo fr > out/café/index.html && echo sub > out/sub/index.html && echo evil > out/evil.com/index.html',
        'printf 0123456789 > out/digits.txt',
      ].join(' && '),
    );
    const r = await call(client, 'deploy_site', { path: 'out', name: 'review' });
    expect(r.isError, text(r)).toBeFalsy();
    siteHost = hostOf(r.structuredContent!.url as string).host;
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    state?.cleanup();
  });

  it('deploy_rollback refuses a version that walks out of the store, so a sandbox never gets a host file served', async () => {
    const secret = path.join(state.dir, 'host-secret.txt');
    writeFileSync(secret, 'HOST SECRET');
    const id = String((await call(client, 'sandbox_info')).structuredContent!.id);
    // A manifest the sandbox wrote in its workspace (a host folder under the state dir) naming a host file as a blob.
    const blob = `../../../../../../../../../../../../../..${secret}`;
    await sh(client, 'cat > evil.json', {
      stdin: JSON.stringify({
        site: 'review',
        version: 'x',
        createdAt: 'now',
        source: 's',
        totalBytes: 11,
        files: { 'index.html': { sha256: blob, size: 11 } },
      }),
    });
    expect(existsSync(path.join(state.dir, 'sandboxes', id, 'workspace', 'evil.json'))).toBe(true);
    const r = await call(client, 'deploy_rollback', {
      name: 'review',
      version: `../../../../sandboxes/${id}/workspace/evil`,
    });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/has no version .*\(versions: v1\).*pass one of the listed versions/s);
    const home = await get(siteHost);
    expect(home.body).not.toContain('HOST SECRET');
    expect(home.body).toContain('home');
    expect((await call(client, 'deploy_list', { name: 'review' })).structuredContent).toMatchObject({
      sites: [{ live: 'v1' }],
    });
  });

  it('folder redirects carry an encoded Location that stays on the site, with the query', async () => {
    const jp = await get(siteHost, '/%E6%97%A5%E6%9C%AC?x=1');
    expect(jp.status).toBe(301);
    expect(jp.headers.location).toBe('/%E6%97%A5%E6%9C%AC/?x=1');
    expect((await get(siteHost, jp.headers.location!)).body).toBe('jp\n');
    const fr = await get(siteHost, '/caf%C3%A9');
    expect(fr.headers.location).toBe('/caf%C3%A9/');
    // "//evil.com" is a path here, never a protocol-relative redirect off the site.
    const evil = await get(siteHost, '//evil.com');
    expect(evil.status).toBe(301);
    expect(evil.headers.location).toBe('/evil.com/');
    const js = await get(siteHost, '//a.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toBe('console.log(1)\n');
    expect((await get(siteHost, 'http://[bad/')).status).toBe(400);
  });

  it('revalidates with weak and listed ETags, and serves byte ranges', async () => {
    const full = await get(siteHost, '/digits.txt');
    const etag = full.headers.etag!;
    expect(full.headers['accept-ranges']).toBe('bytes');
    expect((await get(siteHost, '/digits.txt', { 'if-none-match': `W/${etag}` })).status).toBe(304);
    expect((await get(siteHost, '/digits.txt', { 'if-none-match': `"nope", ${etag}` })).status).toBe(304);
    expect((await get(siteHost, '/digits.txt', { 'if-none-match': '"nope"' })).status).toBe(200);
    const mid = await get(siteHost, '/digits.txt', { range: 'bytes=2-4' });
    expect(mid.status).toBe(206);
    expect(mid.body).toBe('234');
    expect(mid.headers['content-range']).toBe('bytes 2-4/10');
    expect((await get(siteHost, '/digits.txt', { range: 'bytes=-3' })).body).toBe('789');
    expect((await get(siteHost, '/digits.txt', { range: 'bytes=7-' })).body).toBe('789');
    const past = await get(siteHost, '/digits.txt', { range: 'bytes=50-60' });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe('bytes */10');
    // A stale If-Range gets the whole (new) file, not a slice of it.
    expect((await get(siteHost, '/digits.txt', { range: 'bytes=2-4', 'if-range': '"old"' })).status).toBe(200);
  });

  it('webdev_stop warns when a daemonized child keeps the port (and the preview) alive', async () => {
    await sh(
      client,
      "mkdir -p daemon && echo \"require('fs').writeFileSync('pid', String(process.pid)); require('http').createServer((q, r) => r.end('still here')).listen(4320)\" > daemon/s.js",
    );
    const started = await call(client, 'webdev_start', {
      name: 'daemon',
      command: 'setsid node s.js & sleep 1000',
      port: 4320,
    });
    expect(started.isError, text(started)).toBeFalsy();
    const stopped = await call(client, 'webdev_stop', { name: 'daemon' });
    expect(stopped.structuredContent).toMatchObject({ stopped: true });
    expect(text(stopped)).toMatch(/Warning: port 4320 still answers, so its preview still works: .*setsid.*ps -ef/s);
    await sh(client, 'kill $(cat daemon/pid) && while [ -e /proc/$(cat daemon/pid) ]; do sleep 0.05; done');
    const clean = await call(client, 'webdev_start', { name: 'daemon', command: 'node s.js', port: 4320 });
    expect(clean.isError, text(clean)).toBeFalsy();
    const again = await call(client, 'webdev_stop', { name: 'daemon' });
    expect(text(again)).toBe(`Stopped daemon (${String(clean.structuredContent!.processId)}).`);
  });

  it('a client that leaves while the preview port opens leaves no connection behind in the sandbox', async () => {
    await sh(client, 'cat > conns.js', {
      stdin:
        "const s = require('http').createServer((q, r) => q.url === '/conns' ? s.getConnections((e, n) => r.end(String(n))) : r.end('ok')).listen(4330, () => console.log('ready'));",
    });
    await call(client, 'shell_start', { command: 'node conns.js', name: 'conns' });
    await call(client, 'shell_read', { processId: 'conns', until: 'ready', wait_s: 10 });
    const { host } = hostOf((await call(client, 'expose_port', { port: 4330 })).structuredContent!.url as string);
    for (let i = 0; i < 10; i++) {
      const s = net.connect(server.port, '127.0.0.1', () => {
        s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        s.destroy();
      });
      s.on('error', () => undefined);
    }
    await new Promise((r) => setTimeout(r, 1500));
    // Only the connection asking.
    expect((await get(host, '/conns')).body).toBe('1');
  });

  it('a download abandoned mid-file closes the file on the server', async () => {
    await sh(client, 'mkdir -p big && echo hi > big/index.html && head -c 20000000 /dev/zero > big/big.bin');
    const r = await call(client, 'deploy_site', { path: 'big', name: 'big' });
    expect(r.isError, text(r)).toBeFalsy();
    const { host } = hostOf(r.structuredContent!.url as string);
    const fdDir = `/proc/${server.proc.pid}/fd`;
    const blobFds = () =>
      readdirSync(fdDir).filter((f) => {
        try {
          return readlinkSync(path.join(fdDir, f)).includes('/deploy/blobs/');
        } catch {
          return false;
        }
      }).length;
    await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<void>((resolve) => {
            const s = net.connect(server.port, '127.0.0.1', () =>
              s.write(`GET /big.bin HTTP/1.1\r\nHost: ${host}\r\n\r\n`),
            );
            s.once('data', () => {
              s.destroy();
              resolve();
            });
            s.on('error', () => resolve());
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(blobFds()).toBe(0);
  });

  it("a dev server's absolute redirect to its loopback points at the preview, not the host's loopback; a closed port says how to recover", async () => {
    await sh(client, 'cat > redir.js', { stdin: REDIRECTOR });
    const started = await call(client, 'shell_start', { command: 'PORT=4310 node redir.js', name: 'redir' });
    expect(started.isError, text(started)).toBeFalsy();
    const exposed = await call(client, 'expose_port', { port: 4310 });
    expect(exposed.isError, text(exposed)).toBeFalsy();
    const { host } = hostOf(exposed.structuredContent!.url as string);
    const id = host.split('.')[0]!.replace(/^\d+-/, '');
    const login = await get(host, '/login');
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe(`http://${host}/form?next=%2F`);
    expect((await get(hostOf(login.headers.location!).host, '/form')).body).toBe('page /form');
    expect((await get(host, '/api')).headers.location).toBe(`http://5173-${id}.localhost:${server.port}/v1`);
    expect((await get(host, '/ext')).headers.location).toBe('https://example.com/x');
    expect((await get(host, '/rel')).headers.location).toBe('/form');
    const closed = await get(host.replace(/^\d+-/, '4399-'), '/');
    expect(closed.status).toBe(404);
    expect(closed.body).toMatch(/nothing is listening on port 4399 inside the sandbox\. start the server first/);
  });
});

/** Waits for the sandbox's first readdir of g/z (its atime moves), then grows g/z/grow by 8 MiB. */
const GROW_AFTER_LISTING = `
import os, time
a0 = os.stat('g/z').st_atime_ns
print('armed', flush=True)
while os.stat('g/z').st_atime_ns == a0: time.sleep(0.0005)
with open('g/z/grow', 'ab') as h: h.write(b'\\0' * (8 << 20))
print('grown', flush=True)
`;

describe('web edge cases: a server with small limits', () => {
  let state: ReturnType<typeof tempDir>;
  let server: HttpServer;
  let client: Client;
  beforeAll(async () => {
    state = tempDir('sbx-review-web-p-');
    server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_WEBDEV_START_TIMEOUT: '4',
      SANDBOX_DEPLOY_MAX_MB: '1',
    });
    ({ client } = await httpClient(server.url));
  }, 30_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    state?.cleanup();
  });

  it('webdev_start and webdev_build report progress, so a 3 s client timeout does not cut off their answer', async () => {
    await sh(
      client,
      'mkdir -p slow && echo \'{"build": "sleep 4 && mkdir -p dist", "outDir": "dist"}\' > slow/.webdev.json',
    );
    const opts = { timeout: 3000, resetTimeoutOnProgress: true, onprogress: () => undefined };
    const start = (await client.callTool(
      { name: 'webdev_start', arguments: { name: 'slow', command: 'echo booting; sleep 100', port: 4400 } },
      undefined,
      opts,
    )) as ToolResult;
    expect(start.isError).toBe(true);
    expect(text(start)).toMatch(
      /port 4400 did not answer within 4 s, so the server was stopped\.\nLast log lines:\nbooting/,
    );
    const build = (await client.callTool(
      { name: 'webdev_build', arguments: { name: 'slow' } },
      undefined,
      opts,
    )) as ToolResult;
    expect(build.isError, text(build)).toBeFalsy();
    expect(build.structuredContent).toMatchObject({ exitCode: 0, outputDir: '/workspace/slow/dist' });
  }, 40_000);

  it('a file growing while it is published is cut at its listed size: the size limit holds', async () => {
    await sh(client, 'cat > grow.py', { stdin: GROW_AFTER_LISTING });
    // 600 files read before g/z/grow leave the grower time to act between listing and reading.
    await sh(
      client,
      'mkdir -p g/b g/z && echo x > g/index.html && for i in $(seq 1 600); do echo $i > g/b/f$i.txt; done && echo 1 > g/z/grow',
    );
    await call(client, 'shell_start', { command: 'python3 grow.py', name: 'grower' });
    expect(text(await call(client, 'shell_read', { processId: 'grower', until: 'armed', wait_s: 10 }))).toContain(
      'armed',
    );
    const r = await call(client, 'deploy_site', { path: 'g', name: 'grow' });
    expect(r.isError, text(r)).toBeFalsy();
    expect(text(await call(client, 'shell_read', { processId: 'grower', until: 'grown', wait_s: 10 }))).toContain(
      'grown',
    );
    expect((await sh(client, 'stat -c %s g/z/grow')).stdout.trim()).toBe(String(2 + (8 << 20)));
    expect(r.structuredContent!.totalBytes as number).toBeLessThanOrEqual(1 << 20);
    expect((await fetchHost(server.port, hostOf(r.structuredContent!.url as string).host, '/z/grow')).body).toBe('1\n');
  }, 30_000);
});

describe('web edge cases: stdio mode with its web port taken', () => {
  it('deploy_site says the port is taken and how to recover, and publishes nothing', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const state = tempDir('sbx-review-web-s-');
    const { client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_WEB_PORT: String(port) });
    try {
      await sh(client, 'mkdir -p o && echo hi > o/index.html');
      const r = await call(client, 'deploy_site', { path: 'o', name: 'taken' });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(
        new RegExp(
          `cannot open the preview and site listener on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*SANDBOX_WEB_PORT: the operator should set a free port`,
        ),
      );
      expect(existsSync(path.join(state.dir, 'deploy', 'sites', 'taken'))).toBe(false);
    } finally {
      await client.close();
      blocker.close();
      state.cleanup();
    }
  }, 30_000);
});

const noChromium = chromiumMissing();
describe.skipIf(!!noChromium)('web edge cases: the browser tool and the URLs the other tools hand out', () => {
  let state: ReturnType<typeof tempDir>;
  let server: HttpServer;
  let client: Client;
  beforeAll(async () => {
    state = tempDir('sbx-review-web-b-');
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
    ({ client } = await httpClient(server.url));
  }, 30_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    state?.cleanup();
  });

  it('a click that starts a download says the file was not saved and how to fetch it', async () => {
    await sh(
      client,
      'mkdir -p dl && echo "<a href=report.csv download>Get report</a>" > dl/index.html && echo a,b > dl/report.csv',
    );
    const nav = await call(client, 'browser_navigate', { url: 'file:///workspace/dl/index.html' });
    const r = await call(client, 'browser_click', { ref: refOf(snapshotOf(nav), /Get report/) });
    expect(r.isError, text(r)).toBeFalsy();
    expect(text(r)).toMatch(
      /started a download of "report\.csv" \(file:\/\/\/workspace\/dl\/report\.csv\); the browser does not save downloads\. Fetch it inside the sandbox instead/,
    );
  }, 30_000);

  it("opens this sandbox's preview URL (from webdev_start) inside the sandbox; a site URL gets a clear error", async () => {
    expect((await call(client, 'webdev_create', { name: 'shop', template: 'static' })).isError).toBeFalsy();
    const started = await call(client, 'webdev_start', { name: 'shop' });
    expect(started.isError, text(started)).toBeFalsy();
    const preview = `${started.structuredContent!.url as string}index.html?q=1`;
    const nav = await call(client, 'browser_navigate', { url: preview });
    expect(nav.isError, text(nav)).toBeFalsy();
    expect(nav.structuredContent!.url).toBe('http://localhost:8080/index.html?q=1');
    expect(text(nav)).toContain(`${preview} is this sandbox's port 8080 seen from outside`);
    expect(nav.structuredContent!.title).toBe('Static site');
    await call(client, 'webdev_build', { name: 'shop' });
    const deployed = await call(client, 'deploy_site', { path: 'shop/dist', name: 'shop' });
    const site = await call(client, 'browser_navigate', { url: deployed.structuredContent!.url as string });
    expect(site.isError).toBe(true);
    expect(text(site)).toMatch(
      /is served by sandbox-mcp on the host, which this sandbox's browser cannot reach.*serve it inside the sandbox/s,
    );
    expect(text(site)).not.toMatch(/nothing is listening/);
  }, 40_000);
});
