import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, CLI, httpClient, sh, startHttpServer, stdioClient, tempDir, text, type HttpServer } from '../helpers.js';
import { fetchHost } from '../web-helpers.js';

/** Sites belong to the named workspace that deployed them, else to the session; the operator's CLI may remove any. */

const BELONGS_TO = (kind: 'session' | 'workspace', site: string) =>
  new RegExp(`site "${site}" belongs to another ${kind}; pick another name`);

/** Every file under `dir`, concatenated: what the store holds on disk. */
function allText(dir: string): string {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
}

function cli(stateDir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args, '--state-dir', stateDir], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('site owners', () => {
  let state: ReturnType<typeof tempDir>;
  let server: HttpServer;
  const clients: Client[] = [];
  const connect = async (url: string, headers: Record<string, string> = {}) => {
    const { client } = await httpClient(url, headers);
    clients.push(client);
    await sh(client, 'mkdir -p out && echo "<p>$RANDOM</p>" > out/index.html');
    return client;
  };
  const body = async (site: string) => (await fetchHost(server.port, `${site}.site.localhost:${server.port}`)).body;
  const names = async (c: Client) =>
    ((await call(c, 'deploy_list')).structuredContent!.sites as { name: string }[]).map((s) => s.name);

  beforeAll(async () => {
    state = tempDir('sbx-sec-sites-');
    // A site deployed before owners were recorded: versions, no owner.json.
    const legacy = path.join(state.dir, 'deploy', 'sites', 'oldsite');
    mkdirSync(path.join(legacy, 'versions'), { recursive: true });
    writeFileSync(
      path.join(legacy, 'versions', 'v1.json'),
      JSON.stringify({
        site: 'oldsite',
        version: 'v1',
        createdAt: '2026-01-01T00:00:00.000Z',
        source: '/workspace/old',
        totalBytes: 3,
        files: { 'index.html': { sha256: 'b'.repeat(64), size: 3 } },
      }),
    );
    writeFileSync(
      path.join(legacy, 'live.json'),
      JSON.stringify({ version: 'v1', updatedAt: '2026-01-01T00:00:00.000Z' }),
    );
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await server?.stop();
    state?.cleanup();
  });

  it('only the session that deployed a site redeploys, rolls it back or deletes it; deploy_list shows each its own', async () => {
    const a = await connect(server.url);
    const b = await connect(server.url);
    expect((await call(a, 'deploy_site', { path: 'out', name: 'alpha' })).isError).toBeFalsy();
    await sh(a, 'echo "<p>alpha two</p>" > out/index.html');
    expect((await call(a, 'deploy_site', { path: 'out', name: 'alpha' })).structuredContent).toMatchObject({
      version: 'v2',
    });
    for (const [tool, args] of [
      ['deploy_site', { path: 'out', name: 'alpha' }],
      ['deploy_rollback', { name: 'alpha', version: 'v1' }],
      ['deploy_delete', { name: 'alpha' }],
      ['deploy_list', { name: 'alpha' }],
    ] as const) {
      const r = await call(b, tool, args);
      expect(r.isError, tool).toBe(true);
      expect(text(r), tool).toMatch(BELONGS_TO('session', 'alpha'));
    }
    expect(await body('alpha')).toContain('alpha two');
    expect(await names(b)).not.toContain('alpha');
    expect(await names(a)).toContain('alpha');
    expect((await call(a, 'deploy_rollback', { name: 'alpha', version: 'v1' })).isError).toBeFalsy();
    expect((await call(a, 'deploy_delete', { name: 'alpha' })).isError).toBeFalsy();
    // Deleted, the name is free: whoever deploys it next owns it.
    expect((await call(b, 'deploy_site', { path: 'out', name: 'alpha' })).isError).toBeFalsy();
    expect(text(await call(a, 'deploy_delete', { name: 'alpha' }))).toMatch(BELONGS_TO('session', 'alpha'));
  });

  it('a named workspace owns its sites across its sessions and server restarts; others are refused, and the name is never stored', async () => {
    const w1 = await connect(server.url, { 'Sandbox-Workspace': 'team-secret-name' });
    expect((await call(w1, 'deploy_site', { path: 'out', name: 'teamsite' })).isError).toBeFalsy();
    const w2 = await connect(`${server.url}?workspace=team-secret-name`);
    expect((await call(w2, 'deploy_site', { path: 'out', name: 'teamsite' })).structuredContent).toMatchObject({
      version: 'v2',
    });
    expect(await names(w2)).toEqual(['teamsite']);
    const other = await connect(server.url, { 'Sandbox-Workspace': 'other' });
    const plain = await connect(server.url);
    const proto = await connect(server.url, { 'Sandbox-Workspace': 'constructor' });
    for (const c of [other, plain, proto]) {
      const r = await call(c, 'deploy_site', { path: 'out', name: 'teamsite' });
      expect(text(r)).toMatch(BELONGS_TO('workspace', 'teamsite'));
      expect(JSON.stringify(await call(c, 'deploy_list'))).not.toContain('team-secret-name');
      expect(await names(c)).toEqual([]);
    }
    expect((await call(proto, 'deploy_site', { path: 'out', name: 'ctor-site' })).isError).toBeFalsy();
    expect(text(await call(w1, 'deploy_delete', { name: 'ctor-site' }))).toMatch(BELONGS_TO('workspace', 'ctor-site'));
    expect(allText(path.join(state.dir, 'deploy'))).not.toContain('team-secret-name');

    await server.stop();
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
    const again = await connect(server.url, { 'Sandbox-Workspace': 'team-secret-name' });
    expect((await call(again, 'deploy_rollback', { name: 'teamsite', version: 'v1' })).isError).toBeFalsy();
  }, 60_000);

  it('a site deployed before owners were recorded is claimed by the first session that changes it', async () => {
    const first = await connect(server.url);
    const second = await connect(server.url);
    expect(await names(first)).not.toContain('oldsite');
    expect(text(await call(first, 'deploy_list', { name: 'oldsite' }))).toMatch(
      /site "oldsite" has no owner yet.*versions: v1.*first session to change it/s,
    );
    expect((await call(first, 'deploy_site', { path: 'out', name: 'oldsite' })).structuredContent).toMatchObject({
      version: 'v2',
    });
    expect(text(await call(second, 'deploy_rollback', { name: 'oldsite', version: 'v1' }))).toMatch(
      BELONGS_TO('session', 'oldsite'),
    );
    expect(await names(first)).toContain('oldsite');
  });

  it('the operator lists every site with its owner kind and deletes any of them from the CLI', async () => {
    const list = cli(state.dir, 'sites', 'list', '--json');
    expect(list.code, list.stderr).toBe(0);
    const sites = (
      JSON.parse(list.stdout) as { sites: { name: string; owner: { kind: string; id: string } | null; live: string }[] }
    ).sites;
    expect(sites.map((s) => [s.name, s.owner?.kind])).toEqual([
      ['alpha', 'session'],
      ['ctor-site', 'workspace'],
      ['oldsite', 'session'],
      ['teamsite', 'workspace'],
    ]);
    expect(list.stdout).not.toMatch(/team-secret-name|constructor/);
    const team = cli(state.dir, 'sites', 'list', '--workspace', 'team-secret-name');
    expect(team.code).toBe(0);
    expect(team.stdout).toMatch(/^NAME +OWNER/);
    expect(
      team.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/ +/)[0]),
    ).toEqual(['teamsite']);

    expect(await body('teamsite')).not.toMatch(/Site not found/);
    const del = cli(state.dir, 'sites', 'delete', 'teamsite');
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toMatch(/Deleted site teamsite \(2 versions\)/);
    expect(await body('teamsite')).toMatch(/Site not found/);

    const missing = cli(state.dir, 'sites', 'delete', 'teamsite');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no site named "teamsite".*sites list/);
    const usage = cli(state.dir, 'sites', 'remove', 'x');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/sites needs "list" or "delete NAME"/);
  });
});

describe('site owners over stdio', () => {
  it('a stdio server started again is a new session and owns nothing; with SANDBOX_WORKSPACE its sites stay its own', async () => {
    const state = tempDir('sbx-sec-sites-stdio-');
    const run = async (env: Record<string, string>, fn: (c: Client) => Promise<void>) => {
      const { client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, ...env });
      try {
        await fn(client);
      } finally {
        await client.close();
      }
    };
    try {
      await run({}, async (c) => {
        await sh(c, 'mkdir -p out && echo hi > out/index.html');
        expect((await call(c, 'deploy_site', { path: 'out', name: 'solo' })).isError).toBeFalsy();
      });
      await run({}, async (c) => {
        expect(text(await call(c, 'deploy_delete', { name: 'solo' }))).toMatch(BELONGS_TO('session', 'solo'));
      });
      await run({ SANDBOX_WORKSPACE: 'keep' }, async (c) => {
        await sh(c, 'mkdir -p out && echo hi > out/index.html');
        expect((await call(c, 'deploy_site', { path: 'out', name: 'kept' })).isError).toBeFalsy();
      });
      await run({ SANDBOX_WORKSPACE: 'keep' }, async (c) => {
        expect((await call(c, 'deploy_delete', { name: 'kept' })).structuredContent).toMatchObject({
          deletedVersions: 1,
        });
      });
    } finally {
      state.cleanup();
    }
  }, 90_000);
});
