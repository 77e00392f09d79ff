import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { startHttpServer, tempDir, type HttpServer } from './helpers.js';

/** A request the proxy passed on: which backend got it, and its Mcp-Name (the tool, for tools/call). */
export interface Routed {
  backend: number;
  name?: string;
}

/**
 * A round-robin HTTP proxy, as a plain load balancer with no affinity: request n goes to backend
 * n mod N; a backend that refuses the connection (stopped) is skipped, like haproxy's retry-on
 * conn-failure. It records where each request went.
 */
export async function roundRobinProxy(backends: string[]) {
  const routed: Routed[] = [];
  let next = 0;
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, tries: number): void => {
    const backend = next++ % backends.length;
    const target = new URL(backends[backend]!);
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        routed.push({ backend, name: req.headers['mcp-name'] as string | undefined });
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent && tries < backends.length) forward(req, res, body, tries + 1);
      else res.destroy();
    });
    up.end(body);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), 1));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    routed,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** N replicas of the built CLI with the same configuration, each with a state dir of its own (as pods have). */
export async function startReplicas(n: number, env: Record<string, string>): Promise<HttpServer[]> {
  const out: HttpServer[] = [];
  for (let i = 0; i < n; i++) {
    const state = tempDir(`sbx-replica-${i}-`);
    const server = await startHttpServer({ ...env, SANDBOX_STATE_DIR: state.dir });
    const stop = server.stop;
    out.push({
      ...server,
      stop: async (signal) => {
        const code = await stop(signal);
        state.cleanup();
        return code;
      },
    });
  }
  return out;
}

/** A TCP port free right now on loopback (haproxy needs a real one in its bind line). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export const HAPROXY_CONFIG = path.resolve(import.meta.dirname, '..', 'deploy', 'haproxy.cfg');

/** Debian's haproxy, if installed. */
export function haproxyBinary(): string | undefined {
  const found = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));
  return found && spawnSync(found, ['-v']).status === 0 ? found : undefined;
}

/** haproxy running deploy/haproxy.cfg as it is, in front of `replicas`; resolves once it accepts. */
export async function startHaproxy(
  binary: string,
  replicas: HttpServer[],
): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const proc: ChildProcess = spawn(binary, ['-db', '-f', HAPROXY_CONFIG], {
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/bin',
      SANDBOX_LB_BIND: `127.0.0.1:${port}`,
      SANDBOX_REPLICA_1: `127.0.0.1:${replicas[0]!.port}`,
      SANDBOX_REPLICA_2: `127.0.0.1:${replicas[1]!.port}`,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const errors: string[] = [];
  proc.stderr!.on('data', (d: Buffer) => errors.push(d.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`haproxy did not start: ${errors.join('')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
