import type { Config } from '../../config.js';
import { e2bNetwork, knownAllowList, type NetworkMapping } from '../shared/cloud-network.js';
import type { ProviderDescription } from '../types.js';

/** For sandbox_info and doctor; kept apart from the SDK so it is available before the SDK loads. */
export function describeE2B(
  c: Config,
  mapped: Omit<NetworkMapping<unknown>, 'options'> = e2bNetwork(c, knownAllowList(c)),
): ProviderDescription {
  return {
    provider: 'e2b',
    isolation: `E2B sandbox (Firecracker microVM), template ${c.e2bTemplate}`,
    network: `${mapped.network}; ports reachable through E2B preview URLs`,
    limits: {
      lifetimeS: `${c.e2bTimeoutS} (renewed on activity)`,
      maxOutputBytes: c.maxOutputBytes,
      defaultExecTimeoutS: c.execTimeoutS,
      maxExecTimeoutS: c.maxExecTimeoutS,
      idleTimeoutS: c.idleTimeoutS,
      memoryAndCpu: 'set by the E2B template',
    },
    warnings: mapped.warnings,
  };
}
