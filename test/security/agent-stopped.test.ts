import { existsSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  httpClient,
  isolationSkipReason,
  sh,
  startHttpServer,
  tempDir,
  text,
  waitFor,
  type HttpServer,
} from '../helpers.js';

// `kill -STOP -1` must only ever run inside a pid namespace: never without isolation.
const skip = isolationSkipReason('bwrap');

/**
 * Code in a sandbox runs as the same user as the sandbox's agent, so it can stop it: `kill -STOP -1`
 * freezes every process it may signal, the agent included. The session's calls must not wait for ever:
 * each fails a few seconds past its own timeout, the server then finds the agent silent and ends the
 * sandbox, and the next call gets a fresh one. Another session of the same server is untouched.
 */
describe.skipIf(skip)('a sandbox that stops its own agent', () => {
  let state: ReturnType<typeof tempDir>;
  let server: HttpServer;
  let hostile: Client;
  let other: Client;

  beforeAll(async () => {
    state = tempDir('sbx-sec-stopped-');
    server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_WARM_POOL: '0',
      SANDBOX_ISOLATION: 'bwrap',
    });
    ({ client: hostile } = await httpClient(server.url));
    ({ client: other } = await httpClient(server.url));
    await sh(other, 'echo kept > mine.txt');
  }, 60_000);
  afterAll(async () => {
    await hostile?.close();
    await other?.close();
    await server?.stop();
    state?.cleanup();
  });

  it('cannot hang its calls: they fail past their timeout, and the next call gets a fresh sandbox', async () => {
    await sh(hostile, 'echo before > old.txt');
    const started = performance.now();
    const stopped = await call(hostile, 'shell_exec', { command: 'kill -STOP -1; echo unreachable', timeout_s: 1 });
    expect(stopped.isError, text(stopped)).toBe(true);
    expect(text(stopped)).toMatch(/did not answer .*kill -STOP/);
    // Its own 1 s, the 10 s grace, and slack for a loaded machine; without a deadline it never returns.
    expect(performance.now() - started).toBeLessThan(30_000);

    const fresh = await waitFor(
      async () => {
        const r = await call(hostile, 'shell_exec', { command: 'ls; echo alive', timeout_s: 5 });
        return r.isError ? undefined : text(r);
      },
      40_000,
      500,
    );
    expect(fresh).toContain('alive');
    expect(fresh).not.toContain('old.txt');
    expect(text(await call(other, 'shell_exec', { command: 'cat mine.txt' }))).toContain('kept');
  }, 120_000);

  // With the native front, commands are the front's and files and processes the Node.js agent's: a
  // sandbox stopping only the latter must be replaced too, not left failing every such call.
  it.skipIf(!existsSync(new URL('../../dist/agent/front', import.meta.url)))(
    'cannot hang its file and process calls by stopping only its Node.js agent',
    async () => {
      await sh(hostile, 'echo before > old.txt');
      const started = await call(hostile, 'shell_start', { command: 'sleep 600' });
      const processId = started.structuredContent!.processId as string;
      await sh(hostile, "pkill -STOP -f '^/.sandbox-mcp/node '; echo stopped");
      const begun = performance.now();
      const read = await call(hostile, 'shell_read', { processId, wait_s: 1 });
      expect(read.isError, text(read)).toBe(true);
      expect(performance.now() - begun).toBeLessThan(30_000);
      const fresh = await waitFor(
        async () => {
          const r = await call(hostile, 'file_list', { path: '.' });
          return r.isError ? undefined : text(r);
        },
        40_000,
        500,
      );
      expect(fresh).not.toContain('old.txt');
      expect(text(await call(other, 'shell_exec', { command: 'cat mine.txt' }))).toContain('kept');
    },
    120_000,
  );
});
