import type { Config } from '../../config.js';
import type { ProviderDescription } from '../types.js';

/** For sandbox_info and doctor; kept apart from the SDK so it is available before the SDK loads. */
export function describeE2B(c: Config): ProviderDescription {
  return {
    provider: 'e2b',
    isolation: `E2B sandbox (Firecracker microVM), template ${c.e2bTemplate}`,
    network: 'internet access (E2B default); ports reachable through E2B preview URLs',
    limits: {
      lifetimeS: `${c.e2bTimeoutS} (renewed on activity)`,
      maxOutputBytes: c.maxOutputBytes,
      defaultExecTimeoutS: c.execTimeoutS,
      maxExecTimeoutS: c.maxExecTimeoutS,
      idleTimeoutS: c.idleTimeoutS,
      memoryAndCpu: 'set by the E2B template',
    },
    warnings: [],
  };
}
