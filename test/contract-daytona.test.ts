import { rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { DaytonaProvider } from '../src/providers/daytona/provider.js';
import type { SandboxProvider } from '../src/providers/types.js';
import { providerContract } from './contract.js';
import { FakeDaytona } from './fakes/daytona.js';
import { tempDir } from './helpers.js';

/** The contract with the real @daytonaio/sdk against the local fake of Daytona's API and toolbox: always runs. */
let fake: FakeDaytona | undefined;
afterAll(async () => {
  await fake?.stop();
});

async function provider(env: Record<string, string>): Promise<SandboxProvider> {
  const { dir } = tempDir('sbx-daytona-');
  const config = loadConfig({}, { SANDBOX_PROVIDER: 'daytona', SANDBOX_STATE_DIR: dir, ...env });
  const p = await DaytonaProvider.start(config, createLogger('warn'));
  const shutdown = p.shutdown.bind(p);
  p.shutdown = async () => {
    await shutdown();
    rmSync(dir, { recursive: true, force: true });
  };
  return p;
}

providerContract(
  'daytona (fake API + toolbox)',
  async () => {
    fake = await new FakeDaytona().start();
    return provider({ DAYTONA_API_KEY: fake.apiKey, DAYTONA_SERVER_URL: fake.url });
  },
  { unisolatedFake: true, noSymlinkInfo: "Daytona's file API reports no symlinks (a link shows as its target)" },
);

const realKey = process.env.DAYTONA_API_KEY;
const realEnv: Record<string, string> = {};
for (const k of ['DAYTONA_SERVER_URL', 'DAYTONA_API_URL', 'DAYTONA_TARGET', 'DAYTONA_SNAPSHOT'])
  if (process.env[k]) realEnv[k] = process.env[k]!;
providerContract('daytona (real cloud)', () => provider({ DAYTONA_API_KEY: realKey!, ...realEnv }), {
  skip: realKey ? undefined : 'DAYTONA_API_KEY is not set (the fake-backed run above covers the adapter offline)',
  noSymlinkInfo: "Daytona's file API reports no symlinks (a link shows as its target)",
});
