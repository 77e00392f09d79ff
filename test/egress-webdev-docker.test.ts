import { spawnSync } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe } from 'vitest';
import { DOCKER_IMAGE, dockerEnv, dockerSkip, expectNoContainersLeft } from './docker-env.js';
import { httpClient, startHttpServer, tempDir, type HttpServer } from './helpers.js';
import { viteReactFlowTests } from './vite-react-flow.js';

/**
 * webdev_create vite-react in SANDBOX_NETWORK=egress on the docker provider: the container stays
 * `--network none`, npm install goes through the relay to the server's proxy, the preview and the deployed
 * site are reached the way docker previews are. Needs an image whose Node runs vite 7 (20.19 or later).
 */
function imageSkip(): string | undefined {
  if (dockerSkip) return dockerSkip;
  const probe = spawnSync('docker', ['run', '--rm', '--network', 'none', DOCKER_IMAGE, 'node', '--version'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  const [major = 0, minor = 0] = /^v(\d+)\.(\d+)/.exec(probe.stdout.trim())?.slice(1).map(Number) ?? [];
  return major > 20 || (major === 20 && minor >= 19)
    ? undefined
    : `image ${DOCKER_IMAGE} has Node ${probe.stdout.trim() || 'none'}, vite 7 needs 20.19 or later; build the current one with scripts/docker-test-image.sh`;
}
const skip = imageSkip();
if (skip) console.warn(`[egress-webdev-docker] skipped: ${skip}`);

describe.skipIf(!!skip)('vite-react in egress mode (docker provider)', () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  let client: Client;

  beforeAll(async () => {
    state = tempDir('sbx-egress-webdev-docker-');
    server = await startHttpServer(
      dockerEnv(state.dir, {
        SANDBOX_NETWORK: 'egress',
        SANDBOX_WEBDEV_START_TIMEOUT: '120',
      }),
    );
    ({ client } = await httpClient(server.url));
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    try {
      if (state) await expectNoContainersLeft(state.dir);
    } finally {
      state?.cleanup();
    }
  });

  viteReactFlowTests(() => client);
});
