import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  hostProcessesWith,
  httpClient,
  startHttpServer,
  tempDir,
  text,
  waitFor,
  type HttpServer,
} from './helpers.js';
import { modernHttpClient } from './modern-helpers.js';
import { expectError, restClient } from './rest-helpers.js';
import { fetchHost } from './web-helpers.js';

/** The REST API through the built CLI, with Node's fetch: every route, its errors, and handles shared with MCP. */

const TOKEN = 'rest-token-0123456789abcdef';
const PNG_HEAD = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

describe('REST API', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  let api: ReturnType<typeof restClient>;
  const auth = { Authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    state = tempDir('sbx-rest-');
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_MCP_AUTH_TOKEN: TOKEN });
    api = restClient(server.url, TOKEN);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    state?.cleanup();
  });

  it('POST creates a running sandbox (201, Location); GET describes it the same way', async () => {
    const r = await api.call('/api/sandboxes', { json: {} });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ provider: 'local', status: 'running', workspace: null, template: null });
    expect(r.json.id).toMatch(/^sbx-[A-Za-z0-9_-]+$/);
    expect(Date.parse(r.json.created)).toBeGreaterThan(Date.now() - 120_000);
    expect(r.headers.get('location')).toBe(`/api/sandboxes/${r.json.id}`);
    const got = await api.call(`/api/sandboxes/${r.json.id}`);
    expect(got.status).toBe(200);
    expect(got.json).toEqual(r.json);
    // An empty body is an empty object: no workspace, no template.
    expect(
      (await api.call('/api/sandboxes', { method: 'POST', headers: { 'content-type': 'application/json' } })).status,
    ).toBe(201);
  });

  it('previewHost reaches a server started in the sandbox, {port} replaced by its port', async () => {
    const sb = await api.create();
    expect(sb.previewHost).toMatch(new RegExp(`^\\{port\\}-[a-z2-7]{20}\\.localhost:${server.port}$`));
    const { client } = await modernHttpClient(server.url, auth);
    const started = await call(client, 'shell_start', {
      command: 'mkdir -p site && echo from-the-sandbox > site/index.html && cd site && python3 -m http.server 8123',
      sandbox: sb.id,
    });
    expect(started.isError, text(started)).toBeFalsy();
    const host = sb.previewHost!.replace('{port}', '8123');
    const page = await waitFor(async () => {
      const p = await fetchHost(server.port, host, '/').catch(() => undefined);
      return p?.status === 200 && p;
    }, 20_000);
    expect(page.body).toContain('from-the-sandbox');
    await client.close();
  });

  it('exec: exit code, stdout and stderr as data; cwd; a timeout kills the command', async () => {
    const { id } = await api.create();
    const r = await api.exec(id, 'echo out; echo err >&2; exit 3');
    expect(r).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    expect(r.durationMs).toBeGreaterThan(0);
    await api.exec(id, 'mkdir -p sub');
    expect((await api.exec(id, 'pwd', { cwd: 'sub' })).stdout).toBe('/workspace/sub\n');
    const slow = await api.exec(id, 'sleep 30', { timeout_s: 1 });
    expect(slow.timedOut).toBe(true);
    expect(slow.durationMs).toBeLessThan(15_000);
  });

  it('a client that goes away mid-exec takes its command with it: nothing runs on', async () => {
    const { id } = await api.create();
    const marker = `rest-gone-${Date.now()}`;
    const aborted = new AbortController();
    const pending = fetch(`${api.origin}/api/sandboxes/${id}/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: `sleep 3; touch ${marker}; sleep 60 # ${marker}` }),
      signal: aborted.signal,
    });
    await waitFor(async () => (await hostProcessesWith(marker)).length > 0, 10_000);
    aborted.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 10_000);
    await new Promise((r) => setTimeout(r, 3500));
    expect((await api.exec(id, `ls ${marker} 2>&1; true`)).stdout).toMatch(/No such file/);
  });

  it('files: PUT raw bytes (atomic, parents made), GET them back byte for byte with a content type, list a folder', async () => {
    const { id } = await api.create();
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const put = await api.put(id, 'deep/er/all.bin', every);
    expect(put.status).toBe(200);
    expect(put.json).toEqual({ path: '/workspace/deep/er/all.bin', size: 256, mode: '0644' });
    const back = await api.get(id, 'deep/er/all.bin');
    expect(back.status).toBe(200);
    expect(back.bytes.equals(every)).toBe(true);
    expect(back.headers.get('content-type')).toBe('application/octet-stream');
    await api.put(id, 'deep/data.json', '{"a":1}');
    expect((await api.get(id, 'deep/data.json')).headers.get('content-type')).toBe('application/json; charset=utf-8');
    await api.put(id, 'deep/README', 'plain words\n');
    expect((await api.get(id, 'deep/README')).headers.get('content-type')).toBe('text/plain; charset=utf-8');
    await api.put(id, 'deep/picture', PNG_HEAD);
    expect((await api.get(id, 'deep/picture')).headers.get('content-type')).toBe('image/png');
    await api.put(id, 'deep/.env', 'SECRET=1\n');
    // The shell sees what the API wrote, and the API what the shell wrote.
    expect((await api.exec(id, 'cat deep/.env')).stdout).toBe('SECRET=1\n');
    await api.exec(id, 'printf "from shell" > deep/shell.txt && chmod 700 deep/shell.txt');
    expect((await api.get(id, '/workspace/deep/shell.txt')).bytes.toString()).toBe('from shell');
    // A rewrite keeps the file's mode, as file_write does.
    expect((await api.put(id, 'deep/shell.txt', 'again')).json.mode).toBe('0700');
    const list = await api.call(`/api/sandboxes/${id}/files?path=deep`);
    expect(list.status).toBe(200);
    expect(list.json.root).toBe('/workspace/deep');
    const names = (list.json.entries as { path: string; type: string }[]).map((e) => `${e.path}:${e.type}`);
    expect(names).toEqual(
      expect.arrayContaining(['deep/er:directory', 'deep/.env:file', 'deep/data.json:file', 'deep/shell.txt:file']),
    );
    const top = await api.call(`/api/sandboxes/${id}/files`);
    expect(top.json.root).toBe('/workspace');
  });

  it('DELETE ends the sandbox (204); the id then answers 410 with how to get a new one', async () => {
    const { id } = await api.create();
    await api.exec(id, 'echo x > kept.txt');
    const del = await api.call(`/api/sandboxes/${id}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(del.bytes.length).toBe(0);
    const gone = await api.call(`/api/sandboxes/${id}`);
    expectError(gone, 410, 'SANDBOX_GONE', /deleted/);
    expect(gone.json.error.hint).toMatch(/POST \/api\/sandboxes/);
    expectError(await api.call(`/api/sandboxes/${id}/exec`, { json: { command: 'true' } }), 410, 'SANDBOX_GONE');
    expectError(await api.call(`/api/sandboxes/${id}`, { method: 'DELETE' }), 410, 'SANDBOX_GONE');
  });

  it('bad requests get JSON errors with codes and hints, never a stack', async () => {
    const { id } = await api.create();
    const unknown = await api.call('/api/nothing-here');
    expectError(unknown, 404, 'NOT_FOUND');
    expect(unknown.json.error.hint).toMatch(/openapi\.json/);
    expectError(await api.call('/api/sandboxes//exec', { json: { command: 'true' } }), 404, 'NOT_FOUND');
    const wrong = await api.call(`/api/sandboxes/${id}/exec`);
    expectError(wrong, 405, 'UNSUPPORTED');
    expect(wrong.headers.get('allow')).toBe('POST');
    expect((await api.call('/api/sandboxes')).headers.get('allow')).toBe('POST');
    const notJson = await api.call(`/api/sandboxes/${id}/exec`, {
      body: '{"command": ',
      headers: { 'content-type': 'application/json' },
    });
    expectError(notJson, 400, 'INVALID_ARGUMENT', /not valid JSON/);
    const typo = await api.call(`/api/sandboxes/${id}/exec`, { json: { command: 'true', timeout: 5 } });
    expectError(typo, 400, 'INVALID_ARGUMENT', /timeout/);
    expect(typo.json.error.hint).toMatch(/openapi/);
    expectError(
      await api.call(`/api/sandboxes/${id}/exec`, { json: { command: '' } }),
      400,
      'INVALID_ARGUMENT',
      /command/,
    );
    const tooLong = await api.call(`/api/sandboxes/${id}/exec`, { json: { command: 'true', timeout_s: 100_000 } });
    expectError(tooLong, 400, 'INVALID_ARGUMENT', /maximum/);
    const textBody = await api.call('/api/sandboxes', { body: '{}', headers: { 'content-type': 'text/plain' } });
    expectError(textBody, 415, 'INVALID_ARGUMENT');
    expect(textBody.json.error.hint).toMatch(/application\/json/);
    expectError(
      await api.call('/api/sandboxes', { json: { workspace: 'Not A Name' } }),
      400,
      'INVALID_ARGUMENT',
      /workspace/,
    );
    const template = await api.call('/api/sandboxes', { json: { template: 'python-3.12' } });
    expectError(template, 400, 'INVALID_ARGUMENT', /local provider has no templates/);
    expectError(await api.call(`/api/sandboxes/${id}/files/content`), 400, 'INVALID_ARGUMENT', /path/);
    const missing = await api.get(id, 'no/such/file.txt');
    expectError(missing, 404, 'NOT_FOUND', /no such file/);
    expect(missing.json.error.hint).toBeTruthy();
    expectError(await api.get(id, '.'), 400, 'INVALID_ARGUMENT', /director/);
    expectError(await api.call(`/api/sandboxes/${id}/files?path=x&path=y`), 400, 'INVALID_ARGUMENT', /twice/);
    const forged = await api.call('/api/sandboxes/not-a-handle');
    expectError(forged, 400, 'INVALID_ARGUMENT', /not a sandbox handle/);
    expect(forged.json.error.hint).toMatch(/POST \/api\/sandboxes/);
    const altered = id.slice(0, -4) + (id.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expectError(await api.call(`/api/sandboxes/${altered}`), 404, 'NOT_FOUND', /did not issue/);
    expectError(await api.call('/api/sandboxes/%E0%A4%A'), 400, 'INVALID_ARGUMENT');
  });

  it('a handle made over REST works in MCP 2026-07-28 calls, and one from sandbox_create works over REST', async () => {
    const { client } = await modernHttpClient(server.url, auth);
    const fromRest = await api.create();
    await api.put(fromRest.id, 'shared.txt', 'written over REST');
    const read = await call(client, 'shell_exec', { command: 'cat shared.txt', sandbox: fromRest.id });
    expect(read.structuredContent!.stdout).toBe('written over REST');
    const created = await call(client, 'sandbox_create', {});
    const handle = created.structuredContent!.sandbox as string;
    await call(client, 'file_write', { path: 'made-by-mcp.txt', content: 'written over MCP', sandbox: handle });
    expect((await api.get(handle, 'made-by-mcp.txt')).bytes.toString()).toBe('written over MCP');
    expect((await api.call(`/api/sandboxes/${handle}`)).json).toMatchObject({ id: handle, status: 'running' });
    // Deleted over REST, the MCP call is told so, and the other way round.
    expect((await api.call(`/api/sandboxes/${fromRest.id}`, { method: 'DELETE' })).status).toBe(204);
    const after = await call(client, 'shell_exec', { command: 'true', sandbox: fromRest.id });
    expect(after.isError).toBe(true);
    expect(text(after)).toMatch(/deleted/);
    expect((await call(client, 'sandbox_delete', { sandbox: handle })).isError).toBeFalsy();
    expectError(await api.call(`/api/sandboxes/${handle}`), 410, 'SANDBOX_GONE');
    await client.close();
  });

  it('a named workspace is the same sandbox from REST and from MCP', async () => {
    const ws = await api.create({ workspace: 'rest-shared' });
    expect(ws.workspace).toBe('rest-shared');
    await api.put(ws.id, 'from-rest.txt', 'rest side');
    const { client } = await modernHttpClient(server.url, { ...auth, 'Sandbox-Workspace': 'rest-shared' });
    const seen = await call(client, 'shell_exec', { command: 'cat from-rest.txt && echo mcp side > from-mcp.txt' });
    expect(seen.structuredContent!.stdout).toBe('rest side');
    expect((await api.get(ws.id, 'from-mcp.txt')).bytes.toString()).toBe('mcp side\n');
    // A second REST id for the workspace sees the same files; deleting one id keeps them.
    const again = await api.create({ workspace: 'rest-shared' });
    expect((await api.call(`/api/sandboxes/${ws.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api.get(again.id, 'from-rest.txt')).bytes.toString()).toBe('rest side');
    await client.close();
  });

  it('a handle made inside a 2025-era MCP session is refused over REST (403): it belongs to that session', async () => {
    const { client } = await httpClient(server.url, auth);
    const created = await call(client, 'sandbox_create', {});
    const handle = created.structuredContent!.sandbox as string;
    const r = await api.call(`/api/sandboxes/${handle}`);
    expectError(r, 403, 'PERMISSION_DENIED', /session/);
    await client.close();
  });

  it('serves an OpenAPI 3.1 document that validates and describes every route it serves', async () => {
    const r = await api.call('/api/openapi.json');
    expect(r.status).toBe(200);
    const validator = new Validator();
    const result = await validator.validate(r.json);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    const ops = Object.entries(r.json.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(ops.sort()).toEqual(
      [
        'POST /api/sandboxes',
        'GET /api/sandboxes/{id}',
        'DELETE /api/sandboxes/{id}',
        'POST /api/sandboxes/{id}/exec',
        'GET /api/sandboxes/{id}/files',
        'GET /api/sandboxes/{id}/files/content',
        'PUT /api/sandboxes/{id}/files/content',
        'GET /api/openapi.json',
      ].sort(),
    );
    // Generated from the routes' own schemas: the strict exec body, and the error shape.
    const execBody = r.json.components.schemas.ExecRequest;
    expect(execBody.required).toEqual(['command']);
    expect(execBody.additionalProperties).toBe(false);
    expect(Object.keys(r.json.components.schemas.Error.properties.error.properties)).toEqual([
      'code',
      'message',
      'hint',
    ]);
  });
});
