import { execFileSync } from 'node:child_process';
import net from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, httpClient, isolationSkipReason, sh, startHttpServer, stdioClient, tempDir } from './helpers.js';

/**
 * SANDBOX_NETWORK=egress end to end, through the built CLI. The npm registry this machine is set to
 * use is the only real destination: every other request is refused by the proxy before any lookup or
 * connection (refusals after resolution, for names pinned to private addresses, are in
 * egress-proxy.test.ts).
 */
const registry = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
const registryHost = new URL(registry).hostname;
const PROXY = 'http://127.0.0.1:3128';

for (const isolation of ['bwrap', 'unshare'] as const)
  describe.skipIf(!!isolationSkipReason(isolation))(`SANDBOX_NETWORK=egress (local, ${isolation})`, () => {
    let client: Client;
    let stderr: string[];
    let state: ReturnType<typeof tempDir>;
    let hostListener: net.Server;
    let hostPort = 0;
    let hostConnections = 0;

    beforeAll(async () => {
      hostListener = net.createServer((s) => {
        hostConnections++;
        s.end('host secret\n');
      });
      await new Promise<void>((r) => hostListener.listen(0, '127.0.0.1', r));
      hostPort = (hostListener.address() as net.AddressInfo).port;
      state = tempDir();
      // No SANDBOX_EGRESS_ALLOW: the default is read off this host's npm, pip and apt settings.
      ({ client, stderr } = await stdioClient({
        SANDBOX_STATE_DIR: state.dir,
        SANDBOX_ISOLATION: isolation,
        SANDBOX_NETWORK: 'egress',
      }));
    });
    afterAll(async () => {
      await client?.close();
      hostListener.close();
      state?.cleanup();
    });

    it('gives every command the proxy settings, and npm view reaches the configured registry', async () => {
      const env = await sh(
        client,
        'echo "$HTTPS_PROXY $http_proxy $NO_PROXY $npm_config_https_proxy $PIP_PROXY $npm_config_registry"',
      );
      expect(env.stdout.trim()).toBe(`${PROXY} ${PROXY} localhost,127.0.0.1 ${PROXY} ${PROXY} ${registry}`);
      const view = await sh(client, 'npm view is-number version', { timeout_s: 90 });
      expect(view.stderr).toBe('');
      expect(view.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    });

    it('refuses a name not on the allow list with a 403 naming the setting', async () => {
      const plain = await sh(client, 'curl -sS -w "\\n%{http_code}" http://example.com/');
      expect(plain.stdout).toMatch(
        /refused example\.com: the name is not on the egress allow list.*SANDBOX_EGRESS_ALLOW.*\n403$/s,
      );
      const tls = await sh(client, 'curl -sS https://example.com/ 2>&1; echo "exit=$?"');
      expect(tls.stdout).toMatch(/403/);
      expect(tls.stdout).not.toMatch(/exit=0/);
    });

    it("cannot reach a listener on the host's 127.0.0.1, directly or through the proxy", async () => {
      const direct = await sh(
        client,
        `curl -sS --noproxy '*' --max-time 5 http://127.0.0.1:${hostPort}/ 2>&1; echo "exit=$?"`,
      );
      expect(direct.stdout).not.toContain('host secret');
      expect(direct.stdout).not.toMatch(/exit=0/);
      const proxied = await sh(
        client,
        `curl -sS -x ${PROXY} --noproxy '' -w "\\n%{http_code}" http://127.0.0.1:${hostPort}/`,
      );
      expect(proxied.stdout).toMatch(/refused 127\.0\.0\.1.*\n403$/s);
      expect(hostConnections).toBe(0);
    });

    it('sandbox_info reports the mode, the allow list and the counters; the log has JSON lines with the verdict', async () => {
      const info = await call(client, 'sandbox_info');
      const s = info.structuredContent as {
        network: string;
        egress: {
          allow: string[];
          bytesUp: number;
          bytesDown: number;
          allowed: number;
          refused: number;
          proxy: string;
        };
      };
      expect(s.network).toMatch(/^egress/);
      expect(s.egress.proxy).toBe(PROXY);
      expect(s.egress.allow).toContain(registryHost);
      expect(s.egress.allowed).toBeGreaterThanOrEqual(1);
      expect(s.egress.refused).toBeGreaterThanOrEqual(3);
      expect(s.egress.bytesDown).toBeGreaterThan(0);
      expect(s.egress.bytesUp).toBeGreaterThan(0);
      const lines = stderr
        .join('')
        .split('\n')
        .filter((l) => l.includes('"msg":"egress"'))
        .map((l) => JSON.parse(l) as { host: string; verdict: string; session?: string });
      expect(lines).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ host: registryHost, verdict: 'allowed', session: expect.any(String) }),
          expect.objectContaining({ host: 'example.com', verdict: 'refused', session: expect.any(String) }),
        ]),
      );
    });
  });

describe.skipIf(!!isolationSkipReason('bwrap'))('SANDBOX_NETWORK=egress with localhost on the allow list', () => {
  it('still refuses loopback after resolution, and the host listener sees nothing', async () => {
    let connections = 0;
    const listener = net.createServer((s) => {
      connections++;
      s.end('host secret\n');
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as net.AddressInfo).port;
    const state = tempDir();
    const { client } = await stdioClient({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_ISOLATION: 'bwrap',
      SANDBOX_NETWORK: 'egress',
      SANDBOX_EGRESS_ALLOW: `${registryHost},localhost,127.0.0.1`,
    });
    try {
      const r = await sh(
        client,
        `curl -sS -x ${PROXY} --noproxy '' -w "\\n%{http_code}" http://localhost:${port}/; curl -sS -x ${PROXY} --noproxy '' https://localhost:${port}/ 2>&1`,
      );
      expect(r.stdout).toMatch(/refused localhost: it resolves to [0-9a-f.:]+, a loopback address.*\n403/s);
      expect(r.stdout).not.toContain('host secret');
      expect(connections).toBe(0);
    } finally {
      await client.close();
      listener.close();
      state.cleanup();
    }
  });
});

describe.skipIf(!!isolationSkipReason('bwrap'))('SANDBOX_NETWORK=egress: one sandbox, one proxy socket', () => {
  it("a sandbox finds only its own proxy socket, never another session's", async () => {
    const state = tempDir();
    const server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_ISOLATION: 'bwrap',
      SANDBOX_NETWORK: 'egress',
      SANDBOX_EGRESS_ALLOW: registryHost,
    });
    const a = await httpClient(server.url);
    const b = await httpClient(server.url);
    try {
      const idOf = async (client: Client) => (await call(client, 'sandbox_info')).structuredContent!.id as string;
      const [idA, idB] = await Promise.all([idOf(a.client), idOf(b.client)]);
      expect(idA).not.toBe(idB);
      // Every socket file A can see, wherever it is: its own relay socket and nothing of B's.
      const found = await sh(
        a.client,
        `find / \\( -path /proc -o -path /sys \\) -prune -o \\( -type s -o -name '*${idB}*' \\) -print 2>/dev/null; true`,
      );
      expect(found.stdout).not.toContain(idB);
      expect(found.stdout.split('\n').filter((l) => l.endsWith('egress.sock'))).toHaveLength(1);
    } finally {
      await a.client.close();
      await b.client.close();
      await server.stop();
      state.cleanup();
    }
  }, 120_000);
});
