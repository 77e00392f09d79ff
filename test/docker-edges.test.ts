import { execFileSync } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerEnv, dockerSkip, expectNoContainersLeft, managedContainers, stateLabel } from './docker-env.js';
import { call, sh, stdioClient, tempDir, text, waitFor, expectUnreadInputCapped } from './helpers.js';

/**
 * Defects found by an adversarial review of the docker provider, each driven through the MCP tools
 * over stdio against a real engine: the built CLI, SANDBOX_PROVIDER=docker, network none.
 */
if (dockerSkip) console.warn(`[docker-edges] skipped: ${dockerSkip}`);

describe.skipIf(!!dockerSkip)('docker provider: edge cases', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;
  /** Processes in the container whose command line starts with `prefix` (an extended regex). */
  const inSandbox = async (prefix: string) =>
    (await sh(client, `ps -eo args= | grep -E '^${prefix}' || true`)).stdout.split('\n').filter(Boolean);

  beforeAll(async () => {
    state = tempDir('sbx-review-docker-');
    ({ client } = await stdioClient(
      dockerEnv(state.dir, { SANDBOX_PIDS_MAX: '64', SANDBOX_FILE_SIZE_MB: '1024', SANDBOX_MAX_OUTPUT: '1048576' }),
    ));
  });
  afterAll(async () => {
    await client?.close();
    try {
      if (state) await expectNoContainersLeft(state.dir);
    } finally {
      state?.cleanup();
    }
  });

  it('a timeout kills a command that cleared its environment (env -i), promptly', async () => {
    const r = await sh(client, 'exec env -i sleep 701', { timeout_s: 1 });
    expect(r).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    expect(r.durationMs).toBeLessThan(4000); // not the 5 s kill grace of a kill that found nothing
    await waitFor(async () => (await inSandbox('sleep 701')).length === 0, 5000);
  });

  it('shell_kill ends children that cleared their environment', async () => {
    const start = await call(client, 'shell_start', { command: 'env -i sleep 702 & exec env -i sleep 703' });
    const processId = start.structuredContent!.processId as string;
    await waitFor(async () => (await inSandbox('sleep 70')).length === 2, 5000);
    await call(client, 'shell_kill', { processId });
    await waitFor(async () => (await inSandbox('sleep 70')).length === 0, 5000);
  });

  it("a timed-out command's stderr has no wrapper internals", async () => {
    const r = await sh(client, "trap '' TERM; echo own-error >&2; sleep 100", { timeout_s: 1 });
    expect(r.timedOut).toBe(true);
    expect(r.stderr).toBe('own-error\n');
  });

  it('env given for the command (PATH, BASH_ENV, SHELLOPTS) does not run in or break the wrapper', async () => {
    const path = await sh(client, 'echo "$PATH"; ls', { env: { PATH: '/nonexistent' } });
    expect(path.stdout).toBe('/nonexistent\n');
    expect(path.stderr).toMatch(/ls: command not found/);
    expect(path.stderr).not.toMatch(/setsid/);
    await sh(client, 'echo "echo sourced" > /workspace/bash-env.sh');
    const bashEnv = await sh(client, 'echo hi', { env: { BASH_ENV: '/workspace/bash-env.sh' } });
    expect(bashEnv.stdout).toBe('sourced\nhi\n'); // once, by the command's bash, not also by the wrapper's
    const traced = await sh(client, 'echo hi; exit 4', { env: { SHELLOPTS: 'xtrace' } });
    expect(traced).toMatchObject({ exitCode: 4, stdout: 'hi\n' });
    expect(traced.stderr).not.toMatch(/cd -- |s=4|:exit:/);
  });

  it('a BASH_ENV or xtrace given for the command, writing before the frame header, breaks neither call', async () => {
    await sh(client, 'echo "echo sourced-err >&2" > /workspace/bash-env-err.sh');
    const r = await sh(client, 'echo hi >&2', { env: { BASH_ENV: '/workspace/bash-env-err.sh' } });
    expect(r.stderr).toBe('sourced-err\nhi\n');
    const start = await call(client, 'shell_start', { command: 'echo started', env: { SHELLOPTS: 'xtrace' } });
    expect(start.isError, text(start)).toBeFalsy();
    const out = await call(client, 'shell_read', {
      processId: start.structuredContent!.processId,
      wait_s: 10,
      until: 'started',
    });
    expect(out.structuredContent).toMatchObject({ matched: true });
  });

  it('file_read of a /proc file returns its content (they report size 0)', async () => {
    const r = await call(client, 'file_read', { path: '/proc/meminfo' });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent!.content).toMatch(/^MemTotal:/);
  });

  it('file_search patterns mean what they mean in JavaScript, not PCRE', async () => {
    await call(client, 'file_write', { path: 're/t.txt', content: 'abc\nA\nhx\n' });
    const lines = async (pattern: string) => {
      const r = await call(client, 'file_search', { pattern, path: 're/t.txt' });
      expect(r.isError, text(r)).toBeFalsy();
      return (r.structuredContent!.matches as { line: number }[]).map((m) => m.line);
    };
    expect(await lines('\\u0041')).toEqual([2]); // PCRE has no \u: refused before
    expect(await lines('[^]x')).toEqual([3]); // JavaScript's "any character" class
    expect(await lines('\\h')).toEqual([3]); // a literal h in JavaScript, horizontal space in PCRE
    expect(await lines('[[:alpha:]]')).toEqual([]); // "[:alph" then "]" in JavaScript, a letter in PCRE
  });

  it('file_search reports a file name holding a newline whole', async () => {
    await sh(client, "mkdir -p nl && printf 'needle\\n' > 'nl/a\nb.txt'");
    const r = await call(client, 'file_search', { pattern: 'needle', path: 'nl' });
    expect(r.structuredContent!.matches).toEqual([{ path: 'nl/a\nb.txt', line: 1, text: 'needle' }]);
  });

  it('a file operation when the process limit is used up says so and how to recover', async () => {
    const hog = await call(client, 'shell_start', { command: 'for i in $(seq 100); do sleep 300 & done; wait' });
    const processId = hog.structuredContent!.processId as string;
    try {
      const failed = await waitFor(
        async () => {
          const r = await call(client, 'file_write', { path: 'p.txt', content: 'x' });
          return r.isError ? r : false;
        },
        20_000,
        300,
      );
      expect(text(failed)).toMatch(/process limit.*shell_kill/s);
    } finally {
      // The later cases share this container: never leave it at its process limit.
      await call(client, 'shell_kill', { processId, signal: 'SIGKILL' });
    }
    await waitFor(
      async () => !(await call(client, 'file_write', { path: 'p.txt', content: 'x' })).isError,
      20_000,
      300,
    );
  }, 60_000);

  it('a container removed behind the server while a command runs is an error saying so, and the next call works', async () => {
    expect((await sh(client, 'echo up')).stdout).toBe('up\n');
    const running = call(client, 'shell_exec', { command: 'sleep 60', timeout_s: 90 });
    await new Promise((r) => setTimeout(r, 1500));
    const ours = managedContainers(stateLabel(state.dir)).map((l) => l.split(' ')[0]!);
    expect(ours.length).toBe(1);
    execFileSync('docker', ['rm', '-f', '-v', ...ours], { stdio: 'pipe' });
    const r = await running;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/removed or stopped while the command ran.*next call starts a fresh sandbox/s);
    expect((await sh(client, 'echo fresh')).stdout).toBe('fresh\n');
  }, 30_000);

  it('shell_write to a process that never reads its input is refused once 16 MiB are waiting, not buffered forever', () =>
    expectUnreadInputCapped(client));

  it('shell_kill_all frees a container whose process limit is held by leftovers of a finished command; files stay', async () => {
    await sh(client, 'echo keep > kept.txt');
    // env -i + setsid: the leftovers escape the timeout's kill, as a real daemonizing command's would.
    await call(client, 'shell_exec', {
      command: 'for i in $(seq 100); do env -i setsid sleep 900 >/dev/null 2>&1 & done',
      timeout_s: 8,
    });
    const failed = await waitFor(
      async () => {
        const r = await call(client, 'shell_exec', { command: 'echo hi' });
        return r.isError ? r : false;
      },
      10_000,
      300,
    );
    expect(text(failed)).toMatch(/process limit.*shell_kill/s);
    const r = await call(client, 'shell_kill_all');
    expect(r.isError, text(r)).toBeFalsy();
    expect(r.structuredContent!.killed).toBeGreaterThanOrEqual(30);
    expect((await sh(client, 'cat kept.txt')).stdout).toBe('keep\n');
    expect((await sh(client, "ps -eo args | grep -c '^sleep 900$' || true")).stdout.trim()).toBe('0');
    expect((await sh(client, 'echo alive')).stdout).toBe('alive\n'); // the container itself lives on
  }, 60_000);
});
