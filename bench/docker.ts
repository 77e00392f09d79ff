import type { Client } from '@modelcontextprotocol/client';
import { loadConfig } from '../src/config.js';
import { engineOptions } from '../src/providers/docker/provider.js';
import { connectOurs } from './client.js';
import { compare, summarize, time, type BenchRunner, type Stat } from '../src/ops/stats.js';

async function exec(client: Client, command: string): Promise<void> {
  const r = await client.callTool({ name: 'shell_exec', arguments: { command } });
  if (r.isError) throw new Error(JSON.stringify(r.content));
}

/** Sandbox creation (first call minus a warm call) and warm shell_exec, for one provider over stdio. */
async function measure(env: Record<string, string>, sessions: number, log: (l: string) => void, label: string) {
  const creation: number[] = [];
  const first: number[] = [];
  for (let i = 0; i < sessions; i++) {
    const client = await connectOurs({ ...env, SANDBOX_WARM_POOL: '0' });
    const [f] = await time(() => exec(client, 'true'));
    const w: number[] = [];
    for (let k = 0; k < 5; k++) w.push((await time(() => exec(client, 'true')))[0]);
    first.push(f);
    creation.push(f - summarize(w).p50);
    await client.close();
    log(`${label} session ${i + 1}/${sessions}: first ${f.toFixed(1)} ms, warm ${summarize(w).p50.toFixed(1)} ms`);
  }
  const client = await connectOurs({ ...env, SANDBOX_WARM_POOL: '0' });
  await exec(client, 'true');
  return { client, creation, first, warm: [] as number[] };
}

/**
 * Docker beside local in the same run: sandbox creation (cold, no pool) and warm shell_exec round trips,
 * plus the floor the engine sets: a bare exec of `true` through dockerode (create, start, stream, inspect).
 */
export const dockerBench: BenchRunner = async ({ iterations, stateDir, log }) => {
  // The bench is its own program: the config module reads the environment, once, here.
  const config = loadConfig({ stateDir }, process.env);
  const { default: Docker } = await import('dockerode');
  const docker = new Docker(engineOptions(config.dockerHost, config.dockerCertPath));
  try {
    await docker.ping();
    await docker.getImage(config.dockerImage).inspect();
  } catch (e) {
    return {
      name: 'docker',
      metrics: {},
      comparisons: [],
      notes: [
        `skipped: no Docker engine at ${config.dockerHost} or no image ${config.dockerImage} (${(e as Error).message}); build it with scripts/docker-test-image.sh`,
      ],
    };
  }
  const sessions = Math.max(5, Math.round(iterations / 3));
  const dockerEnv = {
    SANDBOX_STATE_DIR: `${stateDir}/docker`,
    SANDBOX_PROVIDER: 'docker',
    SANDBOX_DOCKER_IMAGE: config.dockerImage,
    DOCKER_HOST: config.dockerHost,
  };
  const localEnv = { SANDBOX_STATE_DIR: `${stateDir}/local`, SANDBOX_PROVIDER: 'local' };
  const local = await measure(localEnv, sessions, log, 'local');
  const dock = await measure(dockerEnv, sessions, log, 'docker');

  // The engine's own floor: a bare exec in a running container, no wrapper, no MCP.
  const ctr = await docker.createContainer({
    Image: config.dockerImage,
    Entrypoint: ['sleep'],
    Cmd: ['infinity'],
    Labels: { 'sandbox-mcp.bench': '1' },
    HostConfig: { NetworkMode: 'none', Init: true },
  });
  const raw: number[] = [];
  try {
    await ctr.start();
    const bare = async () => {
      const ex = await ctr.exec({ Cmd: ['true'], AttachStdout: true, AttachStderr: true });
      const stream = await ex.start({ hijack: true, stdin: false });
      stream.resume();
      await new Promise((r) => {
        stream.once('end', r);
        stream.once('close', r);
      });
      await ex.inspect();
    };
    await bare();
    // Interleave so drift in machine load hits every side alike.
    for (let i = 0; i < iterations; i++) {
      local.warm.push((await time(() => exec(local.client, 'true')))[0]);
      dock.warm.push((await time(() => exec(dock.client, 'true')))[0]);
      raw.push((await time(bare))[0]);
    }
  } finally {
    await ctr.remove({ force: true }).catch(() => undefined);
    await local.client.close();
    await dock.client.close();
  }
  const m: Record<string, Stat> = {
    'local: sandbox creation, cold (first - warm)': summarize(local.creation),
    'docker: sandbox creation, cold (first - warm)': summarize(dock.creation),
    'local: shell_exec warm round trip (stdio)': summarize(local.warm),
    'docker: shell_exec warm round trip (stdio)': summarize(dock.warm),
    'docker: bare engine exec of true (dockerode)': summarize(raw),
    'docker: first shell_exec, cold': summarize(dock.first),
  };
  const dc = m['docker: sandbox creation, cold (first - warm)']!.p50;
  const lc = m['local: sandbox creation, cold (first - warm)']!.p50;
  const dw = m['docker: shell_exec warm round trip (stdio)']!.p50;
  const lw = m['local: shell_exec warm round trip (stdio)']!.p50;
  const rw = m['docker: bare engine exec of true (dockerode)']!.p50;
  return {
    name: 'docker',
    metrics: m,
    comparisons: [
      compare(
        'docker sandbox creation p50',
        dc,
        'local creation p50',
        lc,
        'reported (containers cost more than namespaces)',
        true,
      ),
      compare('docker warm shell_exec p50', dw, 'local warm shell_exec p50', lw, 'reported', true),
      // Ours = the engine's exec + bash + the MCP round trip; local's warm call is that last part, so
      // what is left is the wrapper (bash + setsid) and the framing.
      compare(
        'docker warm shell_exec p50',
        dw,
        'bare engine exec + local warm shell_exec p50',
        rw + lw,
        'ours <= bare exec + local warm + 25 ms',
        dw <= rw + lw + 25,
      ),
    ],
    notes: [
      `docker warm shell_exec overhead over a bare engine exec: ${(dw - rw).toFixed(1)} ms at p50 (local's whole warm round trip: ${lw.toFixed(1)} ms)`,
      `image ${config.dockerImage}, engine ${config.dockerHost}`,
    ],
  };
};
