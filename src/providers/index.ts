import type { Config } from '../config.js';
import { SandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import { describeDaytona } from './daytona/describe.js';
import { describeE2B } from './e2b/describe.js';
import { LazyProvider } from './lazy.js';
import type { SandboxProvider } from './types.js';

/**
 * Builds the configured provider. Vendor SDKs load lazily (dynamic import) and only when selected, so
 * a local user pays nothing for them; a cloud user's `initialize` does not wait for them either.
 */
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
    case 'e2b':
      if (!config.e2bApiKey) {
        throw new SandboxError('AUTH', 'the e2b provider needs an API key', {
          hint: 'set E2B_API_KEY (from https://e2b.dev/dashboard?tab=keys), or choose another provider with SANDBOX_PROVIDER',
        });
      }
      return new LazyProvider(
        'e2b',
        () => describeE2B(config),
        async () => {
          const { E2BProvider } = await import('./e2b/provider.js');
          return E2BProvider.start(config, log);
        },
        log,
      );
    case 'daytona':
      if (!config.daytonaApiKey) {
        throw new SandboxError('AUTH', 'the daytona provider needs an API key', {
          hint: 'set DAYTONA_API_KEY (from https://app.daytona.io/dashboard/keys), or choose another provider with SANDBOX_PROVIDER',
        });
      }
      return new LazyProvider(
        'daytona',
        () => describeDaytona(config),
        async () => {
          const { DaytonaProvider } = await import('./daytona/provider.js');
          return DaytonaProvider.start(config, log);
        },
        log,
      );
    default:
      throw new SandboxError(
        'UNSUPPORTED',
        `provider "${config.provider}" (${config.providerReason}) is not available in this version`,
        {
          hint: 'set SANDBOX_PROVIDER=local, e2b or daytona',
        },
      );
  }
}
