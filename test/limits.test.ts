import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, sh, stdioClient, tempDir } from './helpers.js';

// The unshare fallback builds the sandbox by its own script: each limit is checked there too.
describe.each(['bwrap', 'unshare'])('sandbox limits (%s)', (isolation) => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;
  let enforced: Record<string, unknown>;

  beforeAll(async () => {
    state = tempDir();
    ({ client } = await stdioClient({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_ISOLATION: isolation,
      SANDBOX_PIDS_MAX: '40',
      SANDBOX_MEMORY_MB: '96',
      SANDBOX_FILE_SIZE_MB: '1',
    }));
    enforced = (await call(client, 'sandbox_info')).structuredContent!.limits as Record<string, unknown>;
  });
  afterAll(async () => {
    await client?.close();
    state?.cleanup();
  });

  it('caps file size', async () => {
    const r = await sh(client, 'head -c 3000000 /dev/zero > big.bin; echo status=$?; stat -c %s big.bin');
    expect(r.stdout).toMatch(/status=(1|153)/);
    expect(Number(r.stdout.trim().split('\n').pop())).toBeLessThanOrEqual(1024 * 1024);
  });

  it('caps the number of processes', async (ctx) => {
    if (enforced.pidsMax === 'not enforced') {
      console.warn('skipped: no writable cgroup here, pids limit not enforced');
      ctx.skip();
    }
    const r = await sh(client, 'for i in $(seq 80); do sleep 2 & done 2>/dev/null; jobs -p | wc -l; wait', {
      timeout_s: 30,
    });
    expect(Number(r.stdout.trim())).toBeLessThan(40);
    expect((await sh(client, 'echo alive')).stdout).toBe('alive\n');
  });

  it('caps memory: a hog is killed, the sandbox survives', async (ctx) => {
    if (enforced.memoryMb === 'not enforced') {
      console.warn('skipped: no writable cgroup here, memory limit not enforced');
      ctx.skip();
    }
    const r = await sh(client, `node -e "const a=[]; for(;;) a.push(Buffer.alloc(16<<20, 1))"`, { timeout_s: 60 });
    expect(r.exitCode === 0).toBe(false);
    expect((await sh(client, 'echo alive')).stdout).toBe('alive\n');
  });

  it('shows programs their memory limit where runtimes look for it, read-only', async (ctx) => {
    if (enforced.memoryMb === 'not enforced') {
      console.warn('skipped: no writable cgroup here, no memory limit to show');
      ctx.skip();
    }
    const bytes = String(96 * 1024 * 1024);
    const r = await sh(
      client,
      'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; ' +
        'node -p "process.constrainedMemory()"; echo 1 > /sys/fs/cgroup/memory.max || echo refused',
    );
    expect(r.stdout).toBe(`${bytes}\n${bytes}\n${bytes}\nrefused\n`);
  });
});
