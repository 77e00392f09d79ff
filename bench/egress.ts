import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/client';
import { compare, summarize, time, type BenchRunner, type Stat } from '../src/ops/stats.js';
import { connectOurs } from './client.js';

const run = promisify(execFile);
/** A small package; --prefer-online makes both sides ask the registry every time instead of npm's cache. */
const COMMAND = ['view', 'is-number', 'version', '--prefer-online'];

/** The command's own duration inside the sandbox (shell_exec's durationMs), so MCP round trips do not count. */
async function inSandbox(client: Client): Promise<number> {
  const r = await client.callTool({
    name: 'shell_exec',
    arguments: { command: `npm ${COMMAND.join(' ')}`, timeout_s: 120 },
  });
  const s = r.structuredContent as { exitCode: number; durationMs: number; stderr: string } | undefined;
  if (r.isError || !s || s.exitCode !== 0)
    throw new Error(`npm view failed in the sandbox: ${JSON.stringify(r.content)}`);
  return s.durationMs;
}

/** The docker leg runs when the docker bench's image is named (SANDBOX_DOCKER_IMAGE) and has npm. */
async function dockerClient(stateDir: string, log: (l: string) => void): Promise<Client | undefined> {
  const image = process.env.SANDBOX_DOCKER_IMAGE;
  if (!image) return undefined;
  const client = await connectOurs({
    SANDBOX_STATE_DIR: `${stateDir}/docker`,
    SANDBOX_PROVIDER: 'docker',
    SANDBOX_DOCKER_IMAGE: image,
    SANDBOX_NETWORK: 'egress',
  });
  try {
    await inSandbox(client);
    return client;
  } catch (e) {
    log(`docker leg skipped: ${(e as Error).message.slice(0, 200)}`);
    await client.close();
    return undefined;
  }
}

/**
 * SANDBOX_NETWORK=egress: `npm view` through the proxy (local sandbox; docker too when
 * SANDBOX_DOCKER_IMAGE names an image with npm) beside the same command on the host, interleaved in
 * one run so load drift hits all alike. Target: local at most 1.2x the host's median.
 */
export const egressBench: BenchRunner = async ({ iterations, stateDir, log }) => {
  const n = Math.max(5, Math.round(iterations / 3));
  const local = await connectOurs({ SANDBOX_STATE_DIR: stateDir, SANDBOX_NETWORK: 'egress', SANDBOX_WARM_POOL: '0' });
  const docker = await dockerClient(stateDir, log);
  const samples = { local: [] as number[], docker: [] as number[], host: [] as number[] };
  try {
    // Warm each side once: a sandbox's first npm run fills its own fresh cache folder.
    await inSandbox(local);
    await run('npm', COMMAND);
    for (let i = 0; i < n; i++) {
      samples.local.push(await inSandbox(local));
      if (docker) samples.docker.push(await inSandbox(docker));
      samples.host.push((await time(() => run('npm', COMMAND)))[0]);
      log(
        `${i + 1}/${n}: ${Object.entries(samples)
          .map(([k, v]) => `${k} ${v.at(-1)?.toFixed(0) ?? '-'} ms`)
          .join(', ')}`,
      );
    }
  } finally {
    await local.close();
    await docker?.close();
  }
  const m: Record<string, Stat> = {
    'egress local: npm view in the sandbox, through the proxy': summarize(samples.local),
    ...(docker
      ? { 'egress docker: npm view in the container, through the relay and proxy': summarize(samples.docker) }
      : {}),
    'host: npm view, direct': summarize(samples.host),
  };
  const h = m['host: npm view, direct']!.p50;
  const o = m['egress local: npm view in the sandbox, through the proxy']!.p50;
  const d = docker ? summarize(samples.docker).p50 : undefined;
  return {
    name: 'egress',
    metrics: m,
    comparisons: [
      compare('egress local npm view p50', o, 'host npm view p50', h, 'ours <= 1.2x host', o <= 1.2 * h),
      ...(d === undefined ? [] : [compare('egress docker npm view p50', d, 'host npm view p50', h, 'reported', true)]),
    ],
    notes: [
      'the only real destination is the npm registry this host is configured with; its latency dominates, so the figures move with the network and the machine load',
      ...(docker
        ? []
        : ['docker leg not run: set SANDBOX_DOCKER_IMAGE to an image with npm (scripts/docker-test-image.sh)']),
    ],
  };
};
