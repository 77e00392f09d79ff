import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolationSkipReason, sh, stdioClient, tempDir } from './helpers.js';

/** What a naive "run bash in a temp dir" server would fail: the sandbox must not reach the host. */
for (const isolation of ['bwrap', 'unshare'] as const)
  describe.skipIf(!!isolationSkipReason(isolation))(`isolation (${isolation})`, () => {
    let client: Client;
    let state: ReturnType<typeof tempDir>;
    let hostSecrets: ReturnType<typeof tempDir>;
    let hostServer: http.Server;
    let hostPort: number;
    let hits = 0;

    beforeAll(async () => {
      state = tempDir();
      hostSecrets = tempDir('host-secret-');
      writeFileSync(path.join(hostSecrets.dir, 'secret.txt'), 'HOST-SECRET');
      hostServer = http.createServer((_q, s) => {
        hits++;
        s.end('HOST-SERVICE');
      });
      await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r));
      hostPort = (hostServer.address() as AddressInfo).port;
      ({ client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_ISOLATION: isolation }));
    });
    afterAll(async () => {
      await client?.close();
      hostServer?.close();
      state?.cleanup();
      hostSecrets?.cleanup();
    });

    it('cannot read /etc/shadow, the host home, /root or host temp files', async () => {
      const r = await sh(
        client,
        `cat /etc/shadow; ls /root; ls ${os.homedir()}; cat ${hostSecrets.dir}/secret.txt; cat /proc/1/root/etc/shadow; echo END`,
      );
      expect(r.stdout).toBe('END\n');
      expect(r.stderr).not.toContain('HOST-SECRET');
      expect(r.stdout + r.stderr).not.toMatch(/root:[^\n]*:\d+:\d+:/); // no shadow line
    });

    it('sees only its own /etc/passwd', async () => {
      const r = await sh(client, 'cat /etc/passwd');
      expect(r.stdout.split('\n').filter(Boolean).length).toBeLessThanOrEqual(3);
    });

    it('cannot reach services on the host loopback', async () => {
      const r = await sh(
        client,
        `exec 3<>/dev/tcp/127.0.0.1/${hostPort} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3; echo exit=$?`,
        { timeout_s: 10 },
      );
      expect(r.stdout).not.toContain('HOST-SERVICE');
      expect(hits).toBe(0);
    });

    it('cannot see or signal host processes', async () => {
      const r = await sh(
        client,
        `ls /proc | grep -E '^[0-9]+$' | wc -l; kill -0 ${process.pid} 2>&1; echo kill=$?; ps -eo args`,
      );
      const [count] = r.stdout.split('\n');
      expect(Number(count)).toBeLessThan(10);
      expect(r.stdout).toContain('kill=1');
      expect(r.stdout).not.toContain('vitest');
      expect(r.stdout).not.toContain('cli.js');
    });

    it('cannot write outside its writable folders, nor remount them', async () => {
      const r = await sh(
        client,
        'touch /usr/pwned; touch /etc/pwned; touch /pwned; mount -o remount,rw /usr; echo x > /workspace/ok && echo ok',
      );
      expect(r.stdout).toBe('ok\n');
      expect(r.stderr).toMatch(/Read-only file system/);
    });

    it('has no capabilities and is not host root', async () => {
      const r = await sh(client, "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status");
      for (const line of r.stdout.trim().split('\n')) expect(line).toMatch(/0000000000000000$/);
    });
  });

describe('sessions do not see each other', () => {
  it("a second session cannot see the first session's files or processes", async () => {
    const state = tempDir();
    const a = await stdioClient({ SANDBOX_STATE_DIR: state.dir });
    const b = await stdioClient({ SANDBOX_STATE_DIR: state.dir });
    try {
      const marker = `only-a-${Date.now()}`;
      await sh(a.client, `echo ${marker} > /workspace/a.txt; echo ${marker} > /tmp/a.txt`);
      await a.client.callTool({ name: 'shell_start', arguments: { command: `sleep 300; echo ${marker}` } });
      // The marker reaches B only through the environment, so B's own command line cannot match it.
      const r = await sh(
        b.client,
        'cat /workspace/a.txt /tmp/a.txt; ps -eo args; grep -rls "$MARK" /workspace /tmp /home; ls /workspace /tmp; echo END',
        { env: { MARK: marker } },
      );
      expect(r.stdout).not.toContain(marker);
      expect(r.stdout).toContain('END');
    } finally {
      await a.client.close();
      await b.client.close();
      state.cleanup();
    }
  });
});
