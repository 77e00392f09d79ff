import { rmSync } from 'node:fs';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import type { SandboxProvider } from '../src/providers/types.js';
import { providerContract } from './contract.js';
import { isolationSkipReason, tempDir } from './helpers.js';

/** The built module: the local provider's agent must be compiled JavaScript, so tests use dist/. */
const BUILT_PROVIDER = '../dist/providers/local/provider.js';

async function localProvider(isolation: string, agentFront = 'auto'): Promise<SandboxProvider> {
  const { dir } = tempDir('sbx-contract-');
  const config = loadConfig({ stateDir: dir, isolation, warmPool: '0', agentFront }, {});
  const { LocalProvider } = (await import(BUILT_PROVIDER)) as typeof import('../src/providers/local/provider.js');
  const provider = await LocalProvider.start(config, createLogger('warn'));
  const shutdown = provider.shutdown.bind(provider);
  provider.shutdown = async () => {
    await shutdown();
    rmSync(dir, { recursive: true, force: true });
  };
  return provider;
}

providerContract('local (bwrap)', () => localProvider('bwrap'), { skip: isolationSkipReason('bwrap') });
providerContract('local (unshare)', () => localProvider('unshare'), { skip: isolationSkipReason('unshare') });
// The agent without its native front: what a server built with no C compiler runs.
providerContract('local (bwrap, Node.js agent alone)', () => localProvider('bwrap', 'off'), {
  skip: isolationSkipReason('bwrap'),
});
