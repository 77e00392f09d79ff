import { rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { E2BProvider } from '../src/providers/e2b/provider.js';
import type { SandboxProvider } from '../src/providers/types.js';
import { providerContract } from './contract.js';
import { FakeE2B } from './fakes/e2b.js';
import { tempDir } from './helpers.js';

/** The contract with the real e2b SDK against the local fake of E2B's API and envd: always runs. */
let fake: FakeE2B | undefined;
afterAll(async () => {
  await fake?.stop();
});

async function provider(env: Record<string, string>): Promise<SandboxProvider> {
  const { dir } = tempDir('sbx-e2b-');
  const config = loadConfig({}, { SANDBOX_PROVIDER: 'e2b', SANDBOX_STATE_DIR: dir, ...env });
  const p = await E2BProvider.start(config, createLogger('warn'));
  const shutdown = p.shutdown.bind(p);
  p.shutdown = async () => {
    await shutdown();
    rmSync(dir, { recursive: true, force: true });
  };
  return p;
}

providerContract(
  'e2b (fake API + envd)',
  async () => {
    fake = await new FakeE2B().start();
    return provider({ E2B_API_KEY: fake.apiKey, E2B_API_URL: fake.url, E2B_SANDBOX_URL: fake.url });
  },
  { unisolatedFake: true },
);

const realKey = process.env.E2B_API_KEY;
providerContract(
  'e2b (real cloud)',
  () => provider({ E2B_API_KEY: realKey!, ...(process.env.E2B_DOMAIN ? { E2B_DOMAIN: process.env.E2B_DOMAIN } : {}) }),
  {
    skip: realKey ? undefined : 'E2B_API_KEY is not set (the fake-backed run above covers the adapter offline)',
  },
);
