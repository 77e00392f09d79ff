import { execFileSync } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerEnv, dockerSkip, expectNoContainersLeft } from '../docker-env.js';
import { call, sh, stdioClient, tempDir } from '../helpers.js';

/** The docker provider held to the local provider's standard (isolation.test.ts): the same attacks. */
if (dockerSkip) console.warn(`[security docker] skipped: ${dockerSkip}`);

describe.skipIf(!!dockerSkip)('a hostile docker sandbox', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    state = tempDir('sbx-sec-docker-');
    ({ client } = await stdioClient(dockerEnv(state.dir)));
  });
  afterAll(async () => {
    await client?.close();
    await expectNoContainersLeft(state.dir);
    state?.cleanup();
  });

  it('never runs as host root, with no capabilities', async () => {
    const r = await sh(client, "id -u; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status");
    const [uid, ...caps] = r.stdout.trim().split('\n');
    expect(uid).toBe('1000');
    for (const line of caps) expect(line).toMatch(/0000000000000000$/);
    const id = (await call(client, 'sandbox_info')).structuredContent!.id as string;
    // What the engine itself says of every process in the container: no host uid 0.
    const top = execFileSync('docker', ['top', `sandbox-mcp-${id}`, '-eo', 'pid,uid,args'], { encoding: 'utf8' });
    const uids = top
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/)[1]);
    expect(uids.length).toBeGreaterThan(0);
    expect(uids.filter((u) => u === '0' || u === 'root')).toEqual([]);
  });

  it('cannot write /proc/sys or /sys, make namespaces or mount', async () => {
    const r = await sh(
      client,
      [
        'find /proc/sys /sys -writable 2>/dev/null | head -5',
        'cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern 2>/dev/null && echo core_pattern-writable',
        'unshare -U true 2>/dev/null && echo userns-made',
        'unshare -Ur true 2>/dev/null && echo userns-root-made',
        'python3 -c "import os; os.unshare(os.CLONE_NEWUSER|os.CLONE_NEWNS|os.CLONE_NEWCGROUP)" 2>/dev/null && echo py-unshare',
        'mkdir -p /tmp/m && (mount -t proc proc /tmp/m || mount -t tmpfs t /tmp/m) 2>/dev/null && echo mounted',
        'echo end',
      ].join('; '),
    );
    expect(r.stdout).toBe('end\n');
  });

  it('makes no setuid file that means anything on the host', async () => {
    const r = await sh(
      client,
      'cp /bin/true ./suid-probe && chmod 4755 ./suid-probe && stat -c "%u %A" ./suid-probe; grep -E " /tmp | /home/user " /proc/self/mountinfo',
    );
    expect(r.stdout).toMatch(/^1000 -rws/);
    // /tmp and home are nosuid tmpfs; no-new-privileges makes a setuid bit inert everywhere.
    for (const line of r.stdout.trim().split('\n').slice(1)) expect(line).toMatch(/nosuid/);
    const nnp = await sh(client, 'grep NoNewPrivs /proc/self/status');
    expect(nnp.stdout).toMatch(/NoNewPrivs:\s+1/);
  });
});
