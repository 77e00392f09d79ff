import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { waitFor } from './helpers.js';

/**
 * Whether the Docker tests can run here: an engine answering and the sandbox image present. The image
 * comes from SANDBOX_DOCKER_IMAGE (CI builds it with scripts/docker-test-image.sh); a reason when not.
 */
export const DOCKER_IMAGE = process.env.SANDBOX_DOCKER_IMAGE ?? 'sandbox-mcp-test:bookworm-v5';

function probe(): string | undefined {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 10_000 });
  } catch (e) {
    return `no Docker engine answers (${(e as Error).message.split('\n')[0]}); run scripts/docker-test-image.sh`;
  }
  try {
    execFileSync('docker', ['image', 'inspect', DOCKER_IMAGE], { stdio: 'pipe', timeout: 10_000 });
  } catch {
    return `image ${DOCKER_IMAGE} is missing; build it with scripts/docker-test-image.sh`;
  }
  return undefined;
}

export const dockerSkip = probe();

/** Containers labelled by sandbox-mcp with a given label (e.g. one test run's state dir), as "id name state". */
export function managedContainers(...labels: string[]): string[] {
  if (dockerSkip) return [];
  const filters = ['sandbox-mcp.managed=1', ...labels].flatMap((l) => ['--filter', `label=${l}`]);
  const out = execFileSync('docker', ['ps', '-a', ...filters, '--format', '{{.ID}} {{.Names}} {{.State}}'], {
    encoding: 'utf8',
  });
  return out.split('\n').filter(Boolean);
}

/** The label a server puts on the containers of one state dir. */
export const stateLabel = (dir: string) =>
  `sandbox-mcp.state=${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`;

/** Server env for the docker provider with small limits, for tests. */
export function dockerEnv(stateDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SANDBOX_PROVIDER: 'docker',
    SANDBOX_DOCKER_IMAGE: DOCKER_IMAGE,
    SANDBOX_STATE_DIR: stateDir,
    SANDBOX_MEMORY_MB: '512',
    SANDBOX_PIDS_MAX: '96',
    SANDBOX_CPUS: '1',
    SANDBOX_FILE_SIZE_MB: '64',
    SANDBOX_EXEC_TIMEOUT: '30',
    SANDBOX_MAX_OUTPUT: '65536',
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    ...extra,
  };
}

/** After a test file's server ended: none of its containers may stay behind (waits for removal). */
export async function expectNoContainersLeft(stateDir: string): Promise<void> {
  await waitFor(() => managedContainers(stateLabel(stateDir)).length === 0, 15_000).catch(() => undefined);
  expect(managedContainers(stateLabel(stateDir))).toEqual([]);
}
