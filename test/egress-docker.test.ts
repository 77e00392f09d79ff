import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_IMAGE, dockerEnv, dockerSkip, expectNoContainersLeft } from './docker-env.js';
import { call, CLI, httpClient, sh, startHttpServer, tempDir, type HttpServer } from './helpers.js';

/**
 * SANDBOX_NETWORK=egress on the docker provider, through the built CLI and a real engine: the container
 * stays `--network none`, its 127.0.0.1:3128 is the relay to the server's proxy. The npm registry this
 * machine uses is the only real destination; every other request is refused before any packet leaves.
 */
const registry = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
const registryHost = new URL(registry).hostname;
const PROXY = 'http://127.0.0.1:3128';

function imageSkip(): string | undefined {
  if (dockerSkip) return dockerSkip;
  const r = spawnSync(
    'docker',
    [
      'run',
      '--rm',
      '--network',
      'none',
      DOCKER_IMAGE,
      'sh',
      '-c',
      'command -v perl && command -v curl && command -v npm',
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  return r.status === 0
    ? undefined
    : `image ${DOCKER_IMAGE} lacks perl, curl or npm; build the current one with scripts/docker-test-image.sh`;
}
const skip = imageSkip();
if (skip) console.warn(`[egress-docker] skipped: ${skip}`);

async function hostListener(): Promise<{ port: number; connections: () => number; close: () => void }> {
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    s.end('host secret\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: () => server.close(),
  };
}

function metrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d)).on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** One sample of Prometheus text, by name and labels as printed; 0 when absent. */
function sample(body: string, series: string): number {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe.skipIf(!!skip)('SANDBOX_NETWORK=egress on docker', () => {
  let server: HttpServer;
  let client: Client;
  let state: ReturnType<typeof tempDir>;
  let host: Awaited<ReturnType<typeof hostListener>>;

  beforeAll(async () => {
    host = await hostListener();
    state = tempDir('sbx-egress-docker-');
    // No SANDBOX_EGRESS_ALLOW: the default is this host's own package registries.
    server = await startHttpServer(
      dockerEnv(state.dir, { SANDBOX_NETWORK: 'egress', SANDBOX_EGRESS_MAX_CONNECTIONS: '3' }),
    );
    ({ client } = await httpClient(server.url));
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    host?.close();
    try {
      if (state) await expectNoContainersLeft(state.dir);
    } finally {
      state?.cleanup();
    }
  });

  it('gives commands the proxy settings, and npm view reaches the configured registry', async () => {
    const env = await sh(client, 'echo "$HTTPS_PROXY $http_proxy $NO_PROXY $npm_config_registry"');
    expect(env.stdout.trim()).toBe(`${PROXY} ${PROXY} localhost,127.0.0.1 ${registry}`);
    const view = await sh(client, 'npm view is-number version', { timeout_s: 120 });
    expect(view.stdout.trim(), view.stderr).toMatch(/^\d+\.\d+\.\d+$/);
  }, 180_000);

  it('refuses a name not on the allow list with a 403 naming the setting', async () => {
    const tls = await sh(client, 'curl -sS https://example.com/ 2>&1; echo "exit=$?"');
    expect(tls.stdout).toMatch(/403/);
    expect(tls.stdout).not.toMatch(/exit=0/);
    const plain = await sh(client, 'curl -sS -w "\\n%{http_code}" http://example.com/');
    expect(plain.stdout).toMatch(
      /refused example\.com: the name is not on the egress allow list.*SANDBOX_EGRESS_ALLOW.*\n403$/s,
    );
  });

  it("cannot reach a listener on the host's 127.0.0.1, directly or through the proxy", async () => {
    const direct = await sh(
      client,
      `curl -sS --noproxy '*' --max-time 5 http://127.0.0.1:${host.port}/ 2>&1; echo "exit=$?"`,
    );
    expect(direct.stdout).not.toContain('host secret');
    expect(direct.stdout).not.toMatch(/exit=0/);
    const proxied = await sh(
      client,
      `curl -sS -x ${PROXY} --noproxy '' -w "\\n%{http_code}" http://127.0.0.1:${host.port}/`,
    );
    expect(proxied.stdout).toMatch(/refused 127\.0\.0\.1.*\n403$/s);
    expect(host.connections()).toBe(0);
  });

  it("has no proxy socket inside the container: the server's sockets live in its own 0700 folder", async () => {
    const found = await sh(
      client,
      `find / \\( -path /proc -o -path /sys \\) -prune -o -type s -print 2>/dev/null; true`,
    );
    expect(found.stdout.trim()).toBe('');
  });

  it('holds a sandbox to SANDBOX_EGRESS_MAX_CONNECTIONS open connections (503 beyond)', async () => {
    // Four tunnels opened and held: three get 200, the fourth the cap's 503. The registry is a real host
    // on the internet: a round in which it reset a tunnel (ECONNRESET, not our answer) is tried again.
    const script = [
      'const net = require("net");',
      `const target = ${JSON.stringify(`${registryHost}:443`)};`,
      'function round(left) {',
      '  const answers = [], sockets = [];',
      '  const settle = () => {',
      '    if (answers.length < 4) return;',
      '    if (left > 1 && !answers.every((a) => a.startsWith("HTTP/"))) { sockets.forEach((s) => s.destroy()); return setTimeout(() => round(left - 1), 500); }',
      '    console.log(answers.sort().join("|")); process.exit(0);',
      '  };',
      '  for (let i = 0; i < 4; i++) {',
      '    const s = net.connect(3128, "127.0.0.1", () => s.write(`CONNECT ${target} HTTP/1.1\\r\\nHost: ${target}\\r\\n\\r\\n`));',
      '    sockets.push(s);',
      '    let answered = false;',
      '    const answer = (a) => { if (!answered) { answered = true; answers.push(a); settle(); } };',
      '    s.once("data", (d) => answer(d.toString().split("\\r\\n")[0]));',
      '    s.on("error", (e) => answer(e.message));',
      '  }',
      '}',
      'round(3);',
      'setTimeout(() => process.exit(1), 40000);',
    ].join('\n');
    const r = await sh(client, `node -e '${script}'`, { timeout_s: 60 });
    expect(r.stdout.trim()).toBe(
      'HTTP/1.1 200 Connection Established|HTTP/1.1 200 Connection Established|HTTP/1.1 200 Connection Established|HTTP/1.1 503 Service Unavailable',
    );
  });

  it('sandbox_info and /metrics show the counters; the log has JSON lines with session, host and verdict', async () => {
    const info = await call(client, 'sandbox_info');
    const s = info.structuredContent as {
      network: string;
      egress: { allow: string[]; bytesUp: number; bytesDown: number; allowed: number; refused: number; proxy: string };
    };
    expect(s.network).toMatch(/^egress/);
    expect(s.egress.proxy).toBe(PROXY);
    expect(s.egress.allow).toContain(registryHost);
    expect(s.egress.allowed).toBeGreaterThanOrEqual(4);
    expect(s.egress.refused).toBeGreaterThanOrEqual(4);
    expect(s.egress.bytesDown).toBeGreaterThan(1000);
    expect(s.egress.bytesUp).toBeGreaterThan(100);
    const body = await metrics(server.port);
    expect(
      sample(body, 'sandbox_mcp_egress_requests_total{verdict="refused",reason="not_on_allow_list"}'),
    ).toBeGreaterThanOrEqual(2);
    // One per round of the test above (a round the internet reset is tried again).
    expect(
      sample(body, 'sandbox_mcp_egress_requests_total{verdict="refused",reason="connection_cap"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(body, 'sandbox_mcp_egress_requests_total{verdict="allowed",reason="allowed"}')).toBe(
      s.egress.allowed,
    );
    expect(sample(body, 'sandbox_mcp_egress_bytes_total{direction="down"}')).toBeGreaterThan(1000);
    const lines = server.logs
      .filter((l) => l.includes('"msg":"egress"'))
      .map((l) => JSON.parse(l) as { host?: string; verdict: string; session?: string });
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ host: registryHost, verdict: 'allowed', session: expect.any(String) }),
        expect.objectContaining({ host: 'example.com', verdict: 'refused', session: expect.any(String) }),
      ]),
    );
  });
});

/**
 * The server runs in a mount namespace of its own (bwrap) whose /etc/hosts pins a name to a private
 * address, so the proxy's real resolver answers it and no packet goes anywhere.
 */
const bwrapSkip = skip ?? (spawnSync('bwrap', ['--version']).status === 0 ? undefined : 'bwrap is not installed');
describe.skipIf(!!bwrapSkip)('SANDBOX_NETWORK=egress on docker: names that resolve to non-public addresses', () => {
  it('refuses localhost and an allowed name resolving to a private address, after resolution', async () => {
    const host = await hostListener();
    const state = tempDir('sbx-egress-docker-');
    const hosts = path.join(state.dir, 'hosts');
    writeFileSync(hosts, '127.0.0.1 localhost\n10.1.2.3 mirror.private.test\n');
    const transport = new StdioClientTransport({
      command: 'bwrap',
      args: ['--dev-bind', '/', '/', '--ro-bind', hosts, '/etc/hosts', process.execPath, CLI],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        LOG_LEVEL: 'info',
        ...dockerEnv(state.dir, {
          SANDBOX_NETWORK: 'egress',
          SANDBOX_EGRESS_ALLOW: `${registryHost},localhost,127.0.0.1,mirror.private.test`,
        }),
      },
      stderr: 'pipe',
    });
    const client = new McpClient({ name: 'sandbox-mcp-tests', version: '1.0.0' });
    await client.connect(transport);
    try {
      const r = await sh(
        client,
        // NO_PROXY names localhost: -x with --noproxy '' sends it to the proxy all the same.
        `curl -sS -x ${PROXY} --noproxy '' -w "\\n%{http_code}\\n" http://localhost:${host.port}/; curl -sS -x ${PROXY} --noproxy '' https://localhost:${host.port}/ 2>&1; echo; curl -sS -w "\\n%{http_code}\\n" http://mirror.private.test/`,
      );
      expect(r.stdout).toMatch(/refused localhost: it resolves to [0-9a-f.:]+, a loopback address.*\n403\n/s);
      expect(r.stdout).toMatch(
        /refused mirror\.private\.test: it resolves to 10\.1\.2\.3, a private \(RFC 1918\) address.*\n403\n/s,
      );
      expect(r.stdout).not.toContain('host secret');
      expect(host.connections()).toBe(0);
    } finally {
      await client.close();
      host.close();
      try {
        await expectNoContainersLeft(state.dir);
      } finally {
        state.cleanup();
      }
    }
  }, 120_000);
});

/** An image without perl: egress cannot start its relay there, and sandbox_info says why. */
describe.skipIf(!!skip)('SANDBOX_NETWORK=egress on docker with an image that has no perl', () => {
  const image = `sandbox-mcp-test:no-perl-${process.pid}`;
  const container = `sandbox-mcp-test-no-perl-${process.pid}`;
  beforeAll(() => {
    execFileSync('docker', [
      'run',
      '--name',
      container,
      '--network',
      'none',
      '-u',
      '0',
      DOCKER_IMAGE,
      'rm',
      '/usr/bin/perl',
    ]);
    execFileSync('docker', ['commit', container, image], { stdio: 'ignore' });
  }, 60_000);
  afterAll(() => {
    spawnSync('docker', ['rm', '-f', container]);
    spawnSync('docker', ['rmi', '-f', image]);
  });

  it('reports the missing relay in sandbox_info; commands get no network, the rest works', async () => {
    const state = tempDir('sbx-egress-docker-');
    const server = await startHttpServer(
      dockerEnv(state.dir, { SANDBOX_DOCKER_IMAGE: image, SANDBOX_NETWORK: 'egress' }),
    );
    const { client } = await httpClient(server.url);
    try {
      const r = await sh(client, 'curl -sS --max-time 5 https://example.com/ 2>&1; echo "exit=$?"');
      expect(r.stdout).not.toMatch(/exit=0/);
      const info = await call(client, 'sandbox_info');
      const egress = (info.structuredContent as { egress: { problem?: string } }).egress;
      expect(egress.problem).toMatch(/no perl/);
    } finally {
      await client.close();
      await server.stop();
      try {
        await expectNoContainersLeft(state.dir);
      } finally {
        state.cleanup();
      }
    }
  }, 120_000);
});
