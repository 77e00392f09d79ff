import type { Config } from '../../config.js';
import { e2bNetwork, knownAllowList, type NetworkMapping } from '../shared/cloud-network.js';
import type { ProviderDescription } from '../types.js';

/** For sandbox_info and doctor; kept apart from the SDK so it is available before the SDK loads. */
export function describeE2B(
  config: Config,
  mapped: Omit<NetworkMapping<unknown>, 'options'> = e2bNetwork(config, knownAllowList(config)),
): ProviderDescription {
  return {
    provider: 'e2b',
    isolation: `E2B sandbox (Firecracker microVM), template ${config.e2bTemplate}`,
    network: `${mapped.network}; ports reachable through E2B preview URLs`,
    limits: {
      lifetimeS: `${config.e2bTimeoutS} (renewed on activity)`,
      maxOutputBytes: config.maxOutputBytes,
      defaultExecTimeoutS: config.execTimeoutS,
      maxExecTimeoutS: config.maxExecTimeoutS,
      idleTimeoutS: config.idleTimeoutS,
      memoryAndCpu: 'set by the E2B template',
    },
    warnings: mapped.warnings,
  };
}
