import { afterEach, describe, expect, it, vi } from 'vitest';
import { WarmPool, type Poolable } from '../src/providers/local/warm-pool.js';
import { createLogger } from '../src/logger.js';
import { call, httpClient, sh, startHttpServer, tempDir, waitFor } from './helpers.js';

class FakeSandbox implements Poolable {
  static started = 0;
  killed = false;
  constructor(readonly serial = ++FakeSandbox.started) {}
  isAlive(): boolean {
    return !this.killed;
  }
  async kill(): Promise<void> {
    this.killed = true;
  }
}

function pool(floor: number, ceiling: number) {
  const launched: FakeSandbox[] = [];
  const warm = new WarmPool<FakeSandbox>({
    floor,
    ceiling,
    refillDelayMs: 10,
    log: createLogger('silent'),
    launch: async () => {
      const sandbox = new FakeSandbox();
      launched.push(sandbox);
      return sandbox;
    },
  });
  return { warm, launched };
}

const settle = () => vi.advanceTimersByTimeAsync(50);

describe('warm pool: adapts to bursts within its limits', () => {
  afterEach(() => vi.useRealTimers());

  it('holds its floor, grows to the largest recent burst (up to its ceiling), then shrinks back', async () => {
    vi.useFakeTimers();
    const { warm, launched } = pool(1, 6);
    warm.fill();
    await settle();
    expect(warm.status()).toEqual({ ready: 1, starting: 0, target: 1 });
    // A burst of 8 new sessions: the first gets the started one, the rest none (they start their own).
    const taken = await Promise.all(Array.from({ length: 8 }, () => warm.take()));
    expect(taken.filter(Boolean)).toHaveLength(1);
    expect(warm.status().target).toBe(6); // the burst was 8, the ceiling 6
    await settle();
    expect(warm.status()).toMatchObject({ ready: 6, target: 6 });
    // The next burst is served from the pool.
    const next = await Promise.all(Array.from({ length: 6 }, () => warm.take()));
    expect(next.every((sandbox) => sandbox?.isAlive())).toBe(true);
    await settle();
    expect(warm.status().ready).toBe(6);
    // Two minutes without a burst: back to the floor, the spare sandboxes stopped.
    const spare = launched.filter((sandbox) => !next.includes(sandbox) && sandbox !== taken[0]);
    await vi.advanceTimersByTimeAsync(130_000);
    expect(warm.status()).toMatchObject({ ready: 1, target: 1 });
    expect(spare.filter((sandbox) => sandbox.killed)).toHaveLength(5);
    await warm.close();
    expect(launched.filter((sandbox) => sandbox.isAlive() && !next.includes(sandbox) && sandbox !== taken[0])).toEqual(
      [],
    );
  });

  it('a floor of 0 disables it: nothing is started ahead and takes find nothing', async () => {
    vi.useFakeTimers();
    const { warm, launched } = pool(0, 24);
    warm.fill();
    expect(await warm.take()).toBeUndefined();
    await settle();
    expect(launched).toEqual([]);
    expect(warm.status().target).toBe(0);
  });

  it('a take while the pool is still starting gets a starting sandbox, not a second start', async () => {
    vi.useFakeTimers();
    const { warm, launched } = pool(1, 4);
    warm.fill(); // started, not yet settled
    const sandbox = await warm.take();
    expect(sandbox).toBe(launched[0]);
    expect(launched).toHaveLength(1);
    await warm.close();
  });
});

describe('warm pool: a real server', () => {
  it('grows under a burst of new HTTP sessions, as /metrics shows, and those sessions work', async () => {
    const state = tempDir();
    const server = await startHttpServer({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_WARM_POOL: '1',
      SANDBOX_WARM_POOL_MAX: '3',
    });
    const gauge = async (name: string) => {
      const body = await fetch(`http://127.0.0.1:${server.port}/metrics`).then((response) => response.text());
      return Number(new RegExp(`^sandbox_mcp_warm_pool_${name} (\\d+)`, 'm').exec(body)?.[1]);
    };
    try {
      await waitFor(async () => (await gauge('ready')) === 1, 20_000);
      const burst = await Promise.all(Array.from({ length: 4 }, () => httpClient(server.url)));
      const outputs = await Promise.all(burst.map(({ client }) => sh(client, 'echo $((6 * 7))')));
      for (const output of outputs) expect(output.stdout).toBe('42\n');
      expect(await gauge('target')).toBe(3); // a burst of 4, the ceiling 3
      await waitFor(async () => (await gauge('ready')) === 3, 30_000);
      // Every sandbox is a session's own: the pooled ones are not the burst's.
      const ids = await Promise.all(
        burst.map(async ({ client }) => (await call(client, 'sandbox_info')).structuredContent?.id),
      );
      expect(new Set(ids).size).toBe(4);
      await Promise.all(burst.map(({ client }) => client.close()));
    } finally {
      await server.stop();
      state.cleanup();
    }
  });
});
