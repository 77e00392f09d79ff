import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, httpClient, sh, startHttpServer, stdioClient, tempDir, text, type HttpServer } from './helpers.js';
import { fetchHost, hostOf } from './web-helpers.js';

describe('deploys: versioned sites served by the server', () => {
  let state: ReturnType<typeof tempDir>;
  let server: HttpServer;
  let client: Client;
  const env = () => ({ SANDBOX_STATE_DIR: state.dir, SANDBOX_DEPLOY_MAX_FILES: '40', SANDBOX_DEPLOY_MAX_MB: '1' });
  const site = (host: string, p = '/', headers: Record<string, string> = {}) =>
    fetchHost(server.port, host, p, headers);
  // A named workspace owns the sites it deploys across its sessions and server restarts (a session alone would not).
  const WORKSPACE = { 'Sandbox-Workspace': 'deploys' };

  beforeAll(async () => {
    state = tempDir('sbx-deploy-');
    server = await startHttpServer(env());
    ({ client } = await httpClient(server.url, WORKSPACE));
    await sh(
      client,
      [
        'mkdir -p out/sub out/img',
        'echo "<h1>version one</h1>" > out/index.html',
        'echo "body{color:red}" > out/style.css',
        'echo "<p>sub page</p>" > out/sub/index.html',
        'printf "\\x89PNG" > out/img/logo.png',
        'echo "{\\"a\\":1}" > out/data.json',
      ].join(' && '),
    );
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    state?.cleanup();
  });

  let blogHost = '';

  it('publishes a folder as an immutable version with a live URL', async () => {
    const r = await call(client, 'deploy_site', { path: 'out', name: 'blog' });
    expect(r.isError, text(r)).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ name: 'blog', version: 'v1', fileCount: 5, hasIndex: true });
    const url = r.structuredContent!.url as string;
    expect(url).toBe(`http://blog.site.localhost:${server.port}/`);
    blogHost = hostOf(url).host;
    const home = await site(blogHost);
    expect(home.status).toBe(200);
    expect(home.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(home.body).toContain('version one');
    expect((await site(blogHost, '/style.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await site(blogHost, '/img/logo.png')).headers['content-type']).toBe('image/png');
    expect((await site(blogHost, '/data.json')).headers['content-type']).toBe('application/json; charset=utf-8');
    const folder = await site(blogHost, '/sub');
    expect(folder.status).toBe(301);
    expect(folder.headers.location).toBe('/sub/');
    expect((await site(blogHost, '/sub/')).body).toContain('sub page');
    const missing = await site(blogHost, '/nope.html');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatch(/404 Page not found/);
    expect((await site(blogHost, '/../../../etc/passwd')).status).toBe(404);
    const etag = home.headers.etag!;
    expect((await site(blogHost, '/', { 'if-none-match': etag })).status).toBe(304);
  });

  it('redeploys as a new version, rolls back, and lists versions', async () => {
    await sh(
      client,
      'echo "<h1>version two</h1>" > out/index.html && echo "<h1>custom missing page</h1>" > out/404.html',
    );
    const r = await call(client, 'deploy_site', { path: '/workspace/out', name: 'blog' });
    expect(r.structuredContent).toMatchObject({ version: 'v2', fileCount: 6 });
    expect((await site(blogHost)).body).toContain('version two');
    const custom404 = await site(blogHost, '/gone');
    expect(custom404.status).toBe(404);
    expect(custom404.body).toContain('custom missing page');
    const back = await call(client, 'deploy_rollback', { name: 'blog', version: 'v1' });
    expect(back.structuredContent).toMatchObject({ version: 'v1', live: true });
    expect((await site(blogHost)).body).toContain('version one');
    const list = await call(client, 'deploy_list', { name: 'blog' });
    const [blog] = list.structuredContent!.sites as {
      name: string;
      live: string;
      versions: { version: string; live: boolean; fileCount: number }[];
    }[];
    expect(blog).toMatchObject({ name: 'blog', live: 'v1' });
    expect(blog!.versions.map((v) => [v.version, v.live, v.fileCount])).toEqual([
      ['v1', true, 5],
      ['v2', false, 6],
    ]);
    const bad = await call(client, 'deploy_rollback', { name: 'blog', version: 'v9' });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/no version "v9" \(versions: v1, v2\)/);
  });

  it('refuses bad names', async () => {
    for (const name of ['Blog', '-blog', 'blog-', 'my_blog', 'a'.repeat(64), 'a.b', '']) {
      const r = await call(client, 'deploy_site', { path: 'out', name });
      expect(r.isError, name).toBe(true);
      expect(text(r)).toMatch(/DNS label|name/);
    }
  });

  it("refuses paths outside the sandbox's own files and never reaches host files", async () => {
    writeFileSync(path.join(state.dir, 'host-secret.txt'), 'HOST SECRET');
    const cases: [string, RegExp][] = [
      ['../../etc', /system folder/],
      ['/', /system folder/],
      ['/usr/share', /system folder/],
      [state.dir, /does not exist in the sandbox/],
      ['no/such/dir', /does not exist/],
      ['out/index.html', /not a folder/],
    ];
    for (const [p, msg] of cases) {
      const r = await call(client, 'deploy_site', { path: p, name: 'evil' });
      expect(r.isError, p).toBe(true);
      expect(text(r)).toMatch(msg);
    }
    await sh(client, 'ln -s /etc linked-etc && mkdir -p lnk && ln -s /etc lnk/etc');
    const viaLink = await call(client, 'deploy_site', { path: 'linked-etc', name: 'evil' });
    expect(text(viaLink)).toMatch(/symbolic link/);
    expect((await call(client, 'deploy_site', { path: 'lnk/etc/ssl', name: 'evil' })).isError).toBe(true);
  });

  it('never follows a symlink out of the published folder; links inside it work', async () => {
    await sh(
      client,
      [
        'mkdir -p links/inner && echo "<p>home</p>" > links/index.html && echo outside > outside.txt',
        'echo inner > links/inner/real.txt',
        'ln -s /etc/passwd links/passwd',
        `ln -s ${path.join(state.dir, 'host-secret.txt')} links/secret.txt`,
        'ln -s ../outside.txt links/up.txt',
        'ln -s /etc links/etcdir',
        'ln -s inner/real.txt links/alias.txt',
      ].join(' && '),
    );
    const r = await call(client, 'deploy_site', { path: 'links', name: 'links' });
    expect(r.isError, text(r)).toBeFalsy();
    const skipped = (r.structuredContent!.skipped as string[]).join('\n');
    for (const name of ['passwd', 'secret.txt', 'up.txt', 'etcdir']) expect(skipped).toContain(name);
    const host = hostOf(r.structuredContent!.url as string).host;
    for (const p of ['/passwd', '/secret.txt', '/up.txt', '/etcdir/hostname']) {
      const got = await site(host, p);
      expect(got.status, p).toBe(404);
      expect(got.body).not.toMatch(/root:|HOST SECRET|outside/);
    }
    expect((await site(host, '/alias.txt')).body).toBe('inner\n');
  });

  it('caps file count and total size', async () => {
    await sh(
      client,
      'mkdir -p many big && for i in $(seq 1 45); do echo $i > many/f$i.txt; done && head -c 1200000 /dev/urandom > big/blob.bin',
    );
    const many = await call(client, 'deploy_site', { path: 'many', name: 'many' });
    expect(text(many)).toMatch(/more than 40 files.*SANDBOX_DEPLOY_MAX_FILES/);
    const big = await call(client, 'deploy_site', { path: 'big', name: 'big' });
    expect(text(big)).toMatch(/larger than 1 MiB.*SANDBOX_DEPLOY_MAX_MB/);
    const list = await call(client, 'deploy_list');
    expect((list.structuredContent!.sites as { name: string }[]).map((s) => s.name)).toEqual(['blog', 'links']);
  });

  it('sites outlive the session and a server restart; delete removes them', async () => {
    await client.close();
    expect((await site(blogHost)).body).toContain('version one');
    await server.stop();
    server = await startHttpServer(env());
    ({ client } = await httpClient(server.url, WORKSPACE));
    blogHost = `blog.site.localhost:${server.port}`;
    const home = await site(blogHost);
    expect(home.status).toBe(200);
    expect(home.body).toContain('version one');
    const list = await call(client, 'deploy_list');
    expect(list.structuredContent!.sites).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'blog', live: 'v1', url: `http://${blogHost}/` })]),
    );
    // stdio mode serves the same sites on a loopback listener opened on demand.
    const stdio = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_WORKSPACE: 'deploys' });
    try {
      const l = await call(stdio.client, 'deploy_list', { name: 'blog' });
      const url = (l.structuredContent!.sites as { url: string }[])[0]!.url;
      expect(url).toMatch(/^http:\/\/blog\.site\.localhost:\d+\/$/);
      const { port, host } = hostOf(url);
      expect(port).not.toBe(server.port);
      expect((await fetchHost(port, host)).body).toContain('version one');
    } finally {
      await stdio.client.close();
    }
    const del = await call(client, 'deploy_delete', { name: 'blog' });
    expect(del.structuredContent).toMatchObject({ deletedVersions: 2 });
    const gone = await site(blogHost);
    expect(gone.status).toBe(404);
    expect(gone.body).toMatch(/Site not found/);
    expect(text(await call(client, 'deploy_delete', { name: 'blog' }))).toMatch(/no site named "blog"/);
    // Only the remaining site's blobs stay on disk: index.html and real.txt (alias.txt shares its blob).
    const blobs = readdirSync(path.join(state.dir, 'deploy', 'blobs'))
      .filter((d) => d !== 'tmp')
      .flatMap((d) => readdirSync(path.join(state.dir, 'deploy', 'blobs', d)));
    expect(blobs.length).toBe(2);
  });
});
