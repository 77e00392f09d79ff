import { readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortBridge } from '../../src/providers/local/bridge.js';
import {
  call,
  httpClient,
  isolationSkipReason,
  sh,
  startHttpServer,
  tempDir,
  text,
  waitFor,
  type HttpServer,
} from '../helpers.js';

/**
 * The port bridge's Unix socket is mounted inside every sandbox, so sandbox code can open as many
 * connections to it as it likes. Each costs the server a descriptor: a flood must not use up the
 * server's descriptors (1,200 connections once broke /healthz, other sessions and the warm pool).
 */

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** Opens up to 1,200 connections to the bridge, reports how many the server still holds after 2 s, then keeps them. */
const FLOOD = `python3 - <<'EOF'
import resource, socket, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
wanted = min(1200, hard - 64)
socks = []
for i in range(wanted):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect("/.sandbox-mcp/run/bridge.sock")
        socks.append(s)
    except OSError:
        s.close()
print(f"connected {len(socks)} of {wanted}", flush=True)
time.sleep(2)
held = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(1):
            held += 1
    except BlockingIOError:
        held += 1  # no EOF: the server still holds its end
    except OSError:
        pass
print(f"still held {held}", flush=True)
time.sleep(120)
EOF`;

for (const isolation of ['bwrap', 'unshare'] as const)
  describe.skipIf(!!isolationSkipReason(isolation))(`bridge flood from a sandbox (${isolation})`, () => {
    let state: ReturnType<typeof tempDir>;
    let server: HttpServer;
    const clients: Client[] = [];

    beforeAll(async () => {
      state = tempDir();
      server = await startHttpServer({
        SANDBOX_STATE_DIR: state.dir,
        SANDBOX_ISOLATION: isolation,
        SANDBOX_WARM_POOL: '1',
      });
    });
    afterAll(async () => {
      for (const c of clients) await c.close().catch(() => undefined);
      await server?.stop();
      state?.cleanup();
    });

    async function session(): Promise<Client> {
      const { client } = await httpClient(server.url);
      clients.push(client);
      return client;
    }

    it('1,200 connections to the bridge socket leave the server, other sessions and new sandboxes working', async () => {
      const attacker = await session();
      const bystander = await session();
      await sh(bystander, 'echo kept > /workspace/kept.txt');
      await sh(attacker, 'true');
      const before = fdCount(server.proc.pid!);
      const flood = await call(attacker, 'shell_start', { command: FLOOD });
      const processId = flood.structuredContent!.processId as string;
      const connected = await call(attacker, 'shell_read', { processId, until: 'connected \\d+', wait_s: 60 });
      const wanted = Number(/connected \d+ of (\d+)/.exec(String(connected.structuredContent!.output))?.[1]);
      expect(wanted, text(connected)).toBeGreaterThanOrEqual(500);
      // While the flood holds its sockets, the server's own descriptors stay few.
      expect(fdCount(server.proc.pid!) - before).toBeLessThan(150);
      const held = await call(attacker, 'shell_read', { processId, until: 'still held \\d+', wait_s: 30 });
      const stillHeld = Number(/still held (\d+)/.exec(String(held.structuredContent!.output))?.[1]);
      expect(stillHeld, text(held)).toBeLessThanOrEqual(10);
      expect(fdCount(server.proc.pid!) - before).toBeLessThan(150);

      expect((await fetch(new URL('/healthz', server.url))).status).toBe(200);
      expect((await sh(bystander, 'cat /workspace/kept.txt')).stdout).toBe('kept\n');
      const newcomer = await session();
      expect((await sh(newcomer, 'echo fresh')).stdout).toBe('fresh\n');
      expect((await sh(attacker, 'echo still here')).stdout).toBe('still here\n');
      await call(attacker, 'shell_kill', { processId, signal: 'SIGKILL' });
    }, 180_000);
  });

describe('PortBridge limits', () => {
  let dir: ReturnType<typeof tempDir>;
  let bridge: PortBridge;
  const limits = { maxConnections: 4, maxUnintroduced: 2, helloTimeoutMs: 500, idleTimeoutMs: 400 };

  beforeAll(async () => {
    dir = tempDir('sbx-bridge-');
    bridge = (await PortBridge.listen(path.join(dir.dir, 'b.sock'), limits))!;
  });
  afterAll(() => {
    bridge?.close();
    dir?.cleanup();
  });

  /** A client connection and a promise of when the server closed it. */
  function connect(hello?: string) {
    const s = net.connect(bridge.socketPath);
    s.on('error', () => undefined);
    if (hello) s.write(`${hello}\n`);
    const closed = new Promise<number>((r) => {
      const t = Date.now();
      s.once('close', () => r(Date.now() - t));
    });
    s.resume();
    return { s, closed };
  }

  it('drops a connection at once when no token is awaited', async () => {
    const { closed } = connect();
    expect(await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 2000))])).toBeLessThan(
      300,
    );
  });

  it('holds few unintroduced connections, and closes idle bridged ones', async () => {
    const pending = bridge.expect(5000);
    const silent = [connect(), connect(), connect(), connect()];
    const times = await Promise.all(
      silent.map((c) => Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 2000))])),
    );
    // Two may wait out the hello timeout; the others are closed at once.
    expect(times.filter((t) => t < 300).length).toBeGreaterThanOrEqual(2);
    expect(times.every((t) => t < 1500)).toBe(true);
    const good = connect(pending.token);
    const server = await pending.socket;
    server.write('hi');
    await waitFor(() => good.s.bytesRead >= 2, 2000, 20);
    // No traffic for idleTimeoutMs: the bridged connection is closed by the server.
    const idle = await Promise.race([good.closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 3000))]);
    expect(idle).toBeLessThan(2000);
  });

  it('caps the connections one sandbox holds open', async () => {
    const opened: net.Socket[] = [];
    for (let i = 0; i < limits.maxConnections; i++) {
      const p = bridge.expect(5000);
      connect(p.token);
      const s = await p.socket;
      s.setTimeout(0);
      opened.push(s);
    }
    const extra = bridge.expect(2000);
    const over = connect(extra.token);
    expect(
      await Promise.race([over.closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 1000))]),
    ).toBeLessThan(500);
    extra.cancel();
    for (const s of opened) s.destroy();
  });
});
