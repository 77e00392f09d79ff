import { execFileSync } from 'node:child_process';

/**
 * Whether the Docker tests can run here: an engine answering and the sandbox image present. The image
 * comes from SANDBOX_DOCKER_IMAGE (CI builds it with scripts/docker-test-image.sh); a reason when not.
 */
export const DOCKER_IMAGE = process.env.SANDBOX_DOCKER_IMAGE ?? 'sandbox-mcp-test:bookworm-v3';

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
  const out = execFileSync('docker', ['ps', '-a', ...filters, '--format', '{{.ID}} {{.Names}} {{.State}}'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}
