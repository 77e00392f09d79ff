import { existsSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, isolationSkipReason, sh, stdioClient, tempDir } from './helpers.js';

/**
 * The agent's native front (src/agent-front): a sandbox runs commands without starting Node.js, starts
 * it at the first call that needs it, and then serves both, interleaved. SANDBOX_AGENT_FRONT=off runs
 * Node.js from the start, as a server built without a C compiler does.
 */
const FRONT = new URL('../dist/agent/front', import.meta.url);
const skipReason =
  isolationSkipReason('bwrap') ?? (existsSync(FRONT) ? undefined : 'dist/agent/front was not built (no C compiler)');
if (skipReason) console.warn(`agent-front tests skipped: ${skipReason}`);

const NODE_AGENT = "ps -eo args | grep -c '^/.sandbox-mcp/node ' || true";

describe.skipIf(!!skipReason)('the native agent front', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    state = tempDir('sbx-front-');
    ({ client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_WARM_POOL: '0' }));
  });
  afterAll(async () => {
    await client?.close();
    state?.cleanup();
  });

  it('runs commands without Node.js, starts it for files, then serves both at once', async () => {
    expect((await sh(client, NODE_AGENT)).stdout.trim()).toBe('0');
    const parent = await sh(client, 'cat /proc/$PPID/cmdline | tr "\\0" " "');
    expect(parent.stdout).toMatch(/^\/\.sandbox-mcp\/agent\/front /);
    const written = await call(client, 'file_write', { path: 'notes.txt', content: 'from the file tools\n' });
    expect(written.isError).toBeFalsy();
    expect((await sh(client, NODE_AGENT)).stdout.trim()).toBe('1');
    const [command, file] = await Promise.all([
      sh(client, 'sleep 0.3; cat notes.txt'),
      call(client, 'file_read', { path: 'notes.txt' }),
    ]);
    expect(command.stdout).toBe('from the file tools\n');
    expect(JSON.stringify(file.content)).toContain('from the file tools');
  });

  it('a sandbox whose Node.js agent is killed ends, and the next call gets a fresh one', async () => {
    await call(client, 'file_write', { path: 'before.txt', content: 'x' });
    await sh(client, "pkill -KILL -f '^/.sandbox-mcp/node ' ; sleep 0.5; true").catch(() => undefined);
    // As when the agent itself dies (agent-client.ts): that sandbox is over, the session goes on.
    const after = await sh(client, 'test -e before.txt && echo same || echo fresh');
    expect(after.stdout).toBe('fresh\n');
  });
});

describe.skipIf(!!isolationSkipReason('bwrap'))('SANDBOX_AGENT_FRONT=off', () => {
  it('starts the Node.js agent first, and commands and files work', async () => {
    const state = tempDir('sbx-front-off-');
    const { client } = await stdioClient({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_WARM_POOL: '0',
      SANDBOX_AGENT_FRONT: 'off',
    });
    try {
      expect((await sh(client, NODE_AGENT)).stdout.trim()).toBe('1');
      const parent = await sh(client, 'cat /proc/$PPID/cmdline | tr "\\0" " "');
      expect(parent.stdout).toMatch(/^\/\.sandbox-mcp\/node /);
      expect((await call(client, 'file_write', { path: 'a.txt', content: 'a' })).isError).toBeFalsy();
    } finally {
      await client.close();
      state.cleanup();
    }
  });
});
