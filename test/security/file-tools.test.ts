import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, isolationSkipReason, sh, stdioClient, tempDir, text, type ToolResult } from '../helpers.js';

/**
 * File tools read regular files only, with bounded memory: devices, FIFOs, /proc, huge files and
 * endless lines must never take the agent (and with it the sandbox's files and processes) down.
 * After every case the sandbox must be the same one: its file and background process still there.
 */

const structured = <T = Record<string, unknown>>(r: ToolResult) => r.structuredContent as T;

/** A call must answer within `ms` (a FIFO or device must never block a tool). */
async function answered(client: Client, name: string, args: Record<string, unknown>, ms = 40_000): Promise<ToolResult> {
  const started = Date.now();
  const r = await Promise.race([
    call(client, name, args),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${name} ${JSON.stringify(args)} got no answer in ${ms} ms`)), ms),
    ),
  ]);
  expect(Date.now() - started).toBeLessThan(ms);
  return r;
}

for (const isolation of ['bwrap', 'unshare'] as const)
  describe.skipIf(!!isolationSkipReason(isolation))(`file tools on hostile files (${isolation})`, () => {
    let client: Client;
    let state: ReturnType<typeof tempDir>;
    let keeper: string;

    beforeAll(async () => {
      state = tempDir();
      // A memory limit (where cgroups can be made) keeps a regression from eating the host's memory.
      ({ client } = await stdioClient({
        SANDBOX_STATE_DIR: state.dir,
        SANDBOX_ISOLATION: isolation,
        SANDBOX_MEMORY_MB: '768',
        SANDBOX_SEARCH_TIMEOUT: '8',
        // Whole listings of / (the model's result budget would page them): these tests read every entry.
        SANDBOX_RESULT_MAX_KB: '1024',
      }));
      await sh(
        client,
        [
          'echo precious > /workspace/keep.txt',
          'mkfifo /workspace/fifo',
          'ln -s /dev/zero /workspace/zero-link',
          'ln -s / /workspace/rootlink',
          'printf "hello\\n" > /workspace/huge.txt',
          'truncate -s 900M /workspace/huge.txt',
          'head -c 30000000 /dev/zero | tr "\\0" a > /workspace/oneline.txt',
          'echo needle >> /workspace/oneline.txt',
        ].join(' && '),
      );
      const started = await call(client, 'shell_start', { command: 'sleep 900', name: 'keeper' });
      keeper = structured(started).processId as string;
    });
    afterAll(async () => {
      await client?.close();
      state?.cleanup();
    });

    /** The same sandbox, alive: commands run, the file and the background process are still there. */
    async function expectSandboxIntact(): Promise<void> {
      const r = await call(client, 'shell_exec', { command: 'cat /workspace/keep.txt' });
      expect(r.isError, text(r)).toBeFalsy();
      expect(text(r)).not.toMatch(/previous sandbox/);
      expect(structured(r).stdout).toBe('precious\n');
      const list = structured<{ processes: { processId: string; running: boolean }[] }>(
        await call(client, 'shell_list'),
      );
      expect(list.processes.find((p) => p.processId === keeper)?.running).toBe(true);
    }

    it('file_search over /dev and / returns, skipping devices and system folders', async () => {
      for (const path of ['/dev', '/', 'rootlink']) {
        const r = await answered(client, 'file_search', { pattern: 'needle-not-anywhere', path });
        expect(r.isError, text(r)).toBeFalsy();
        await expectSandboxIntact();
      }
    }, 180_000);

    it('file_list of / lists /dev and /proc (and /sys, which holds only the memory-limit view) without walking them, also through a glob', async () => {
      const top = await answered(client, 'file_list', { path: '/', depth: 3 });
      expect(text(top)).toMatch(/^\/proc\/ {2}\(system folder, not walked/m);
      const paths = structured<{ entries: { path: string }[] }>(top).entries.map((e) => e.path);
      expect(paths).toEqual(expect.arrayContaining(['/dev', '/proc']));
      expect(paths.filter((p) => /^\/(dev|proc|sys)\//.test(p))).toEqual([]);
      const zero = await answered(client, 'file_list', { path: '/', glob: '**/zero' });
      expect(structured<{ entries: { path: string }[] }>(zero).entries.map((e) => e.path)).toEqual([]);
      // Asked by its own path, a system folder is listed.
      const dev = await answered(client, 'file_list', { path: '/dev' });
      expect(structured<{ entries: { path: string }[] }>(dev).entries.map((e) => e.path)).toContain('/dev/zero');
      await expectSandboxIntact();
    }, 120_000);

    it('file_read, file_info and file_edit refuse devices, FIFOs and links to them at once', async () => {
      for (const path of ['/dev/zero', '/dev/urandom', 'zero-link', 'fifo']) {
        const read = await answered(client, 'file_read', { path }, 10_000);
        expect(read.isError, `${path}: ${text(read)}`).toBe(true);
        expect(text(read)).toMatch(/not a regular file/);
        const b64 = await answered(client, 'file_read', { path, encoding: 'base64' }, 10_000);
        expect(b64.isError, `${path}: ${text(b64)}`).toBe(true);
        const edit = await answered(client, 'file_edit', { path, edits: [{ old_text: 'a', new_text: 'b' }] }, 10_000);
        expect(edit.isError, `${path}: ${text(edit)}`).toBe(true);
        const info = await answered(client, 'file_info', { path }, 10_000);
        expect(info.isError, `${path}: ${text(info)}`).toBeFalsy();
        const search = await answered(client, 'file_search', { pattern: 'x', path }, 20_000);
        expect(search.isError, `${path}: ${text(search)}`).toBeFalsy();
      }
      await expectSandboxIntact();
    }, 120_000);

    it('a symlink swapped between a file and a FIFO never makes a read block (the check is on the open file)', async () => {
      const swapper = await call(client, 'shell_start', {
        command: 'cd /workspace; for i in $(seq 200000); do ln -sfn fifo swap; ln -sfn keep.txt swap; done',
      });
      const swapperId = structured(swapper).processId as string;
      try {
        const deadline = Date.now() + 20_000;
        for (let i = 0; i < 300 && Date.now() < deadline; i++) {
          const r = await answered(client, i % 2 ? 'file_read' : 'file_info', { path: 'swap' }, 5000);
          if (!r.isError && i % 2) expect(structured(r).content).toBe('precious\n');
        }
      } finally {
        await call(client, 'shell_kill', { processId: swapperId, signal: 'SIGKILL' });
      }
      await expectSandboxIntact();
    }, 60_000);

    it('/proc/self/mem and other kernel files cannot hang or exhaust the agent', async () => {
      for (const path of ['/proc/self/mem', '/proc/self/pagemap', '/proc/self/status']) {
        await answered(client, 'file_read', { path }, 20_000);
        await answered(client, 'file_read', { path, encoding: 'base64', offset: 4096 }, 20_000);
        await answered(client, 'file_search', { pattern: 'x', path }, 20_000);
      }
      await expectSandboxIntact();
    }, 120_000);

    it('a 900 MB file is read in capped pieces, never whole', async () => {
      const read = await answered(client, 'file_read', { path: 'huge.txt', encoding: 'base64' });
      expect(read.isError, text(read)).toBeFalsy();
      expect(structured(read)).toMatchObject({ size: 900 * 1024 * 1024, truncated: true });
      expect(structured<{ bytes: number }>(read).bytes).toBeLessThanOrEqual(256 * 1024);
      const edit = await answered(client, 'file_edit', {
        path: 'huge.txt',
        edits: [{ old_text: 'hello', new_text: 'bye' }],
      });
      expect(edit.isError).toBe(true);
      expect(text(edit)).toMatch(/more than the \d+ one read moves.*ranges/s);
      const text900 = await answered(client, 'file_read', { path: 'huge.txt' });
      expect(text900.isError).toBe(true); // binary (NULs), refused with a hint
      await expectSandboxIntact();
    }, 120_000);

    it('a file of one 30 MB line is searched and read without holding more than the caps', async () => {
      const found = await answered(client, 'file_search', { pattern: 'needle', path: 'oneline.txt' });
      expect(found.isError, text(found)).toBeFalsy();
      expect(structured<{ matches: unknown[] }>(found).matches).toHaveLength(1);
      const read = await answered(client, 'file_read', { path: 'oneline.txt' });
      expect(read.isError, text(read)).toBeFalsy();
      expect(text(read)).toMatch(/line 1 is longer than the .* read cap/);
      expect(text(read).length).toBeLessThan(400 * 1024);
      await expectSandboxIntact();
    }, 120_000);
  });
