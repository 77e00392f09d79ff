import type { Config } from '../config.js';
import { SandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SandboxProvider } from './types.js';

/** Builds the configured provider. Vendor providers load lazily so a local user pays nothing for them. */
export async function createProvider(config: Config, log: Logger): Promise<SandboxProvider> {
  switch (config.provider) {
    case 'local': {
      const { LocalProvider } = await import('./local/provider.js');
      return LocalProvider.start(config, log);
    }
    case 'docker': {
      const { DockerProvider } = await import('./docker/provider.js');
      return DockerProvider.start(config, log);
    }
    default:
      throw new SandboxError('UNSUPPORTED', `provider "${config.provider}" (${config.providerReason}) is not available in this version`, {
        hint: 'set SANDBOX_PROVIDER=local to use the local isolated sandboxes',
      });
  }
}
