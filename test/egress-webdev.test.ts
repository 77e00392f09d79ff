import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe } from 'vitest';
import { httpClient, isolationSkipReason, startHttpServer, tempDir, type HttpServer } from './helpers.js';
import { viteReactFlowTests } from './vite-react-flow.js';

/**
 * webdev_create vite-react in SANDBOX_NETWORK=egress on the local provider (the docker provider's run is
 * test/egress-webdev-docker.test.ts). Slow (a real install): one server for the whole flow.
 */
const skip = isolationSkipReason('bwrap');
if (skip) console.warn(`[egress-webdev] skipped: ${skip}`);

describe.skipIf(!!skip)('vite-react in egress mode (local provider)', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  let client: Client;

  beforeAll(async () => {
    state = tempDir('sbx-egress-webdev-');
    server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_ISOLATION: 'bwrap',
      SANDBOX_NETWORK: 'egress',
      SANDBOX_WEBDEV_START_TIMEOUT: '120',
    });
    ({ client } = await httpClient(server.url));
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    state?.cleanup();
  });

  viteReactFlowTests(() => client);
});
