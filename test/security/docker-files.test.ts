import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerEnv, dockerSkip, expectNoContainersLeft } from '../docker-env.js';
import { call, sh, stdioClient, tempDir, text, type ToolResult } from '../helpers.js';

/**
 * The docker provider's file tools on hostile files (see file-tools.test.ts for the local agent):
 * regular files only, checked on the opened descriptor; /dev, /proc and /sys listed from / but never
 * walked; reads capped so neither the container nor the server holds a whole huge file.
 */
if (dockerSkip) console.warn(`[security/docker-files] skipped: ${dockerSkip}`);

const structured = <T = Record<string, unknown>>(r: ToolResult) => r.structuredContent as T;

async function answered(client: Client, name: string, args: Record<string, unknown>, ms = 70_000): Promise<ToolResult> {
  return Promise.race([
    call(client, name, args),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${name} ${JSON.stringify(args)} got no answer in ${ms} ms`)), ms),
    ),
  ]);
}

describe.skipIf(!!dockerSkip)('docker file tools on hostile files', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;
  let keeper: string;

  beforeAll(async () => {
    state = tempDir('sbx-docker-');
    ({ client } = await stdioClient(
      dockerEnv(state.dir, {
        SANDBOX_FILE_SIZE_MB: '1024',
        SANDBOX_SEARCH_TIMEOUT: '8',
        // Whole listings of / (the model's result budget would page them): these tests read every entry.
        SANDBOX_RESULT_MAX_KB: '1024',
      }),
    ));
    await sh(
      client,
      [
        'echo precious > /workspace/keep.txt',
        'mkfifo /workspace/fifo',
        'ln -s /dev/zero /workspace/zero-link',
        'printf "hello\\n" > /workspace/huge.txt',
        'truncate -s 900M /workspace/huge.txt',
        'head -c 30000000 /dev/zero | tr "\\0" a > /workspace/oneline.txt',
        'echo needle >> /workspace/oneline.txt',
      ].join(' && '),
    );
    keeper = structured(await call(client, 'shell_start', { command: 'sleep 900' })).processId as string;
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    try {
      if (state) await expectNoContainersLeft(state.dir);
    } finally {
      state?.cleanup();
    }
  });

  async function expectSandboxIntact(): Promise<void> {
    const r = await call(client, 'shell_exec', { command: 'cat /workspace/keep.txt' });
    expect(r.isError, text(r)).toBeFalsy();
    expect(text(r)).not.toMatch(/previous sandbox/);
    expect(structured(r).stdout).toBe('precious\n');
    const list = structured<{ processes: { processId: string; running: boolean }[] }>(await call(client, 'shell_list'));
    expect(list.processes.find((p) => p.processId === keeper)?.running).toBe(true);
  }

  it('devices, FIFOs and links to them are refused by file_read and file_edit', async () => {
    for (const path of ['/dev/zero', '/dev/urandom', 'zero-link', 'fifo']) {
      const read = await answered(client, 'file_read', { path, encoding: 'base64' });
      expect(read.isError, `${path}: ${text(read)}`).toBe(true);
      expect(text(read)).toMatch(/not a regular file/);
      const edit = await answered(client, 'file_edit', { path, edits: [{ old_text: 'a', new_text: 'b' }] });
      expect(edit.isError, `${path}: ${text(edit)}`).toBe(true);
    }
    await expectSandboxIntact();
  }, 180_000);

  it('file_list and file_search of / do not walk /dev, /proc or /sys', async () => {
    const top = await answered(client, 'file_list', { path: '/', depth: 3 });
    const paths = structured<{ entries: { path: string }[] }>(top).entries.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/dev', '/proc']));
    expect(paths.filter((p) => /^\/(dev|proc|sys)\//.test(p))).toEqual([]);
    const search = await answered(client, 'file_search', { pattern: 'needle-not-anywhere', path: '/' });
    expect(search.isError, text(search)).toBeFalsy();
    await expectSandboxIntact();
  }, 180_000);

  it('a 900 MB file is never read whole; a 30 MB line comes back cut', async () => {
    const edit = await answered(client, 'file_edit', {
      path: 'huge.txt',
      edits: [{ old_text: 'hello', new_text: 'bye' }],
    });
    expect(edit.isError).toBe(true);
    expect(text(edit)).toMatch(/more than the \d+ one read moves/);
    const piece = await answered(client, 'file_read', { path: 'huge.txt', encoding: 'base64', offset: 0, limit: 100 });
    expect(structured(piece)).toMatchObject({ size: 900 * 1024 * 1024, bytes: 100 });
    const found = await answered(client, 'file_search', { pattern: 'needle', path: 'oneline.txt' });
    expect(found.isError, text(found)).toBeFalsy();
    expect(text(found).length).toBeLessThan(100_000);
    await expectSandboxIntact();
  }, 180_000);
});
