import type { Config } from '../../config.js';
import { daytonaNetwork, knownAllowList, type NetworkMapping } from '../shared/cloud-network.js';
import type { ProviderDescription } from '../types.js';

/** For sandbox_info and doctor; kept apart from the SDK so it is available before the SDK loads. */
export function describeDaytona(
  config: Config,
  mapped: Omit<NetworkMapping<unknown>, 'options'> = daytonaNetwork(config, knownAllowList(config)),
): ProviderDescription {
  return {
    provider: 'daytona',
    isolation: `Daytona sandbox (target ${config.daytonaTarget}${config.daytonaSnapshot ? `, snapshot ${config.daytonaSnapshot}` : ''})`,
    network: `${mapped.network}; ports reachable through Daytona preview links (token header)`,
    limits: {
      autoStopMin: config.daytonaAutoStopMin || 'off',
      maxOutputBytes: config.maxOutputBytes,
      defaultExecTimeoutS: config.execTimeoutS,
      maxExecTimeoutS: config.maxExecTimeoutS,
      idleTimeoutS: config.idleTimeoutS,
      memoryAndCpu: 'set by the Daytona snapshot and organisation',
    },
    warnings: [
      ...mapped.warnings,
      'closing the stdin of a background process (shell_write close) is not supported on Daytona',
    ],
  };
}
