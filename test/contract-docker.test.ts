import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import type { SandboxProvider } from '../src/providers/types.js';
import { providerContract } from './contract.js';
import { DOCKER_IMAGE, dockerSkip, managedContainers } from './docker-env.js';
import { tempDir } from './helpers.js';

const state = tempDir('sbx-contract-docker-');
const stateLabel = `sandbox-mcp.state=${createHash('sha256').update(state.dir).digest('hex').slice(0, 16)}`;

async function dockerProvider(): Promise<SandboxProvider> {
  const config = loadConfig({ stateDir: state.dir, provider: 'docker', dockerImage: DOCKER_IMAGE, network: 'none', memoryMb: '512', cpus: '1' }, {});
  const { DockerProvider } = await import('../src/providers/docker/provider.js');
  return DockerProvider.start(config, createLogger('warn'));
}

providerContract('docker', dockerProvider, { skip: dockerSkip });

afterAll(() => {
  // Every container the suite created is gone once the provider shut down.
  if (!dockerSkip) expect(managedContainers(stateLabel)).toEqual([]);
  rmSync(state.dir, { recursive: true, force: true });
});

it.skipIf(!!dockerSkip)('docker suite leaves no container behind (checked in afterAll)', () => {
  expect(stateLabel).toMatch(/^sandbox-mcp\.state=[0-9a-f]{16}$/);
});
