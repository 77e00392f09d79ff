import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDaytona } from './fakes/daytona.js';
import { FakeE2B } from './fakes/e2b.js';
import { startHttpServer, tempDir, type HttpServer } from './helpers.js';
import { expectError, restClient } from './rest-helpers.js';

/** The REST API on the cloud providers (the real vendor SDKs against the local fakes): the same routes, their templates. */

const TOKEN = 'rest-cloud-token-0123456789';
let e2b: FakeE2B;
let daytona: FakeDaytona;
const servers: HttpServer[] = [];
const states: ReturnType<typeof tempDir>[] = [];

beforeAll(async () => {
  e2b = await new FakeE2B().start();
  daytona = await new FakeDaytona().start();
});
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const s of states) s.cleanup();
  await e2b?.stop();
  await daytona?.stop();
});

async function serve(env: Record<string, string>) {
  const state = tempDir('sbx-rest-cloud-');
  states.push(state);
  const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_MCP_AUTH_TOKEN: TOKEN, ...env });
  servers.push(server);
  return restClient(server.url, TOKEN);
}

describe('REST API on cloud providers', () => {
  it('e2b: the template in force, a preview host from the vendor, exec and files through the SDK', async () => {
    const api = await serve({
      SANDBOX_PROVIDER: 'e2b',
      E2B_API_KEY: e2b.apiKey,
      E2B_API_URL: e2b.url,
      E2B_SANDBOX_URL: e2b.url,
    });
    const sb = await api.create({ template: 'base' });
    expect(sb).toMatchObject({ provider: 'e2b', status: 'running', template: 'base' });
    expect(sb.previewHost).toMatch(/^\{port\}-[^.]+\.e2b\.app$/);
    expect((await api.exec(sb.id, 'echo hello from e2b')).stdout).toBe('hello from e2b\n');
    expect((await api.put(sb.id, 'note.txt', 'cloud bytes')).status).toBe(200);
    expect((await api.get(sb.id, 'note.txt')).bytes.toString()).toBe('cloud bytes');
    const other = await api.call('/api/sandboxes', { json: { template: 'python' } });
    expectError(other, 400, 'INVALID_ARGUMENT', /"base" \(E2B_TEMPLATE\), not "python"/);
    expect(other.json.error.hint).toMatch(/E2B_TEMPLATE/);
    expect((await api.call(`/api/sandboxes/${sb.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('daytona: no preview host (each port needs a token header), and the default snapshot', async () => {
    const api = await serve({
      SANDBOX_PROVIDER: 'daytona',
      DAYTONA_API_KEY: daytona.apiKey,
      DAYTONA_API_URL: daytona.url,
    });
    const sb = await api.create();
    expect(sb).toMatchObject({ provider: 'daytona', status: 'running', template: null, previewHost: null });
    expect((await api.exec(sb.id, 'echo hello from daytona')).stdout).toBe('hello from daytona\n');
    expectError(
      await api.call('/api/sandboxes', { json: { template: 'my-snapshot' } }),
      400,
      'INVALID_ARGUMENT',
      /the default \(DAYTONA_SNAPSHOT unset\)/,
    );
  });
});
