import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  hostProcessesWith,
  sh,
  stdioClient,
  tempDir,
  text,
  waitFor,
  type ToolResult,
  expectUnreadInputCapped,
} from './helpers.js';

/** Defects found by an adversarial review of the shell and file tools on the local provider. */
describe('shell and file tools: edge cases', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    state = tempDir();
    ({ client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_EXEC_TIMEOUT: '30' }));
  });
  afterAll(async () => {
    await client?.close();
    state?.cleanup();
  });

  it('parallel file_edit calls on one file all land (none is silently lost)', async () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    await call(client, 'file_write', { path: 'par.txt', content: `${lines.join('\n')}\n` });
    const results = await Promise.all(
      lines.map((l, i) =>
        call(client, 'file_edit', { path: 'par.txt', edits: [{ old_text: `${l}\n`, new_text: `LINE ${i}\n` }] }),
      ),
    );
    expect(results.filter((r) => r.isError).map(text)).toEqual([]);
    expect((await sh(client, 'cat par.txt')).stdout).toBe(lines.map((_, i) => `LINE ${i}\n`).join(''));
  });

  it('shell_read never splits a UTF-8 character between two reads', async () => {
    // The first byte of "é" comes alone; the rest a moment later.
    await call(client, 'shell_start', { name: 'split', command: "printf 'a\\303'; sleep 0.7; printf '\\251 done\\n'" });
    const first = (await call(client, 'shell_read', { processId: 'split', wait_s: 0.4 })).structuredContent!;
    const second = (
      await call(client, 'shell_read', { processId: 'split', cursor: first.cursor, wait_s: 5, until: 'done' })
    ).structuredContent!;
    expect(`${first.output}${second.output}`).toBe('aé done\n');
    expect(first.output).not.toContain('\uFFFD');
    // max_bytes that ends inside a character stops before it; the next read starts with it whole.
    const capped = (await call(client, 'shell_read', { processId: 'split', max_bytes: 2 })).structuredContent!;
    expect(capped).toMatchObject({ output: 'a', cursor: 1 });
    expect(
      (await call(client, 'shell_read', { processId: 'split', cursor: 1, max_bytes: 3 })).structuredContent!.output,
    ).toBe('é ');
  });

  it('file_edit keeps CRLF endings when new_text adds lines to a single-line old_text', async () => {
    await call(client, 'file_write', { path: 'crlf.txt', content: 'one\r\ntwo\r\n' });
    const r = await call(client, 'file_edit', {
      path: 'crlf.txt',
      edits: [{ old_text: 'two', new_text: 'two\nthree' }],
    });
    expect(r.isError).toBeFalsy();
    expect((await sh(client, 'od -An -c crlf.txt | tr -s " "')).stdout.replace(/\s+/g, ' ').trim()).toBe(
      'o n e \\r \\n t w o \\r \\n t h r e e \\r \\n',
    );
  });

  it('a path ending in "/" is never turned into a file of that name', async () => {
    const w = await call(client, 'file_write', { path: 'newdir/', content: 'x' });
    expect(w.isError).toBe(true);
    expect(text(w)).toMatch(/ends with "\/".*full file path/);
    await call(client, 'file_write', { path: 'f.txt', content: 'x' });
    const m = await call(client, 'file_move', { from: 'f.txt', to: 'nodir/' });
    expect(m.isError).toBe(true);
    expect(text(m)).toContain('"nodir/f.txt"');
    const same = await call(client, 'file_move', { from: 'f.txt', to: 'f.txt/' });
    expect(same.isError).toBe(true);
    expect(
      (await sh(client, 'ls -p; test -e newdir || echo no-newdir; test -e nodir || echo no-nodir')).stdout,
    ).toMatch(/f\.txt\n[\s\S]*no-newdir\nno-nodir\n/);
  });

  it('file_move of a folder onto a file says so, and leaves both in place', async () => {
    await sh(client, 'mkdir -p mv/dir && echo in > mv/dir/x && echo file > mv/file');
    const r = await call(client, 'file_move', { from: 'mv/dir', to: 'mv/file', overwrite: true });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('/workspace/mv/file is a file and cannot be replaced by a folder. delete it first');
    expect((await sh(client, 'cat mv/dir/x mv/file')).stdout).toBe('in\nfile\n');
  });

  it('permission and symlink-loop errors say how to recover', async () => {
    await sh(client, 'echo x > locked && chmod 000 locked && ln -sf loop-a loop-b && ln -sf loop-b loop-a');
    expect(text(await call(client, 'file_read', { path: 'locked' }))).toMatch(/permission denied\. .*chmod/);
    expect(text(await call(client, 'file_read', { path: 'loop-a' }))).toMatch(
      /too many levels of symbolic links\. .*fix or delete it/,
    );
    expect(text(await call(client, 'file_write', { path: 'loop-a', content: 'x' }))).toMatch(
      /too many levels of symbolic links\. .*fix or delete it/,
    );
  });

  it('a NUL byte in a command or an env value is a clear input error with a way out', async () => {
    const c = await call(client, 'shell_exec', { command: 'echo a\0b' });
    expect(c.isError).toBe(true);
    expect(text(c)).toMatch(/command contains a NUL byte.*stdin or a file/);
    const e = await call(client, 'shell_start', { command: 'echo $V', env: { V: 'a\0b' } });
    expect(e.isError).toBe(true);
    expect(text(e)).toMatch(/value of V contains a NUL byte.*stdin or a file/);
  });

  it('file_write takes any valid long name, and its errors name the path given, not a temporary file', async () => {
    const name = `${'文'.repeat(80)}.txt`; // 244 bytes: a valid name
    const ok = await call(client, 'file_write', { path: name, content: 'x' });
    expect(text(ok)).not.toContain('failed');
    expect((await sh(client, `cat ${name}`)).stdout).toBe('x');
    const tooLong = await call(client, 'file_write', { path: 'x'.repeat(300), content: 'x' });
    expect(tooLong.isError).toBe(true);
    expect(text(tooLong)).toMatch(/name too long.*at most 255 bytes/);
    expect(text(tooLong)).not.toContain('.tmp');
    await sh(client, 'ln -sf /etc/hostname host-link');
    const ro = await call(client, 'file_write', { path: 'host-link', content: 'x' });
    expect(ro.isError).toBe(true);
    expect(text(ro)).toContain('/etc/hostname: read-only');
    const under = await call(client, 'file_write', { path: 'f.txt/inner', content: 'x' });
    expect(under.isError).toBe(true);
    expect(text(under)).toMatch(/part of its folder path is a file, not a folder/);
    expect((await sh(client, 'ls -A | grep -c "\\.tmp$" || true')).stdout).toBe('0\n');
  });

  it('file_search reports no line past the last one', async () => {
    await call(client, 'file_write', { path: 's/three.txt', content: 'a\nb\nc\n' });
    const r = await call(client, 'file_search', { pattern: '^', path: 's/three.txt' });
    expect((r.structuredContent!.matches as { line: number }[]).map((m) => m.line)).toEqual([1, 2, 3]);
  });

  it('file_read shows /proc files, which report size 0, instead of calling them empty', async () => {
    const r = await call(client, 'file_read', { path: '/proc/meminfo', limit: 1 });
    expect(text(r)).toMatch(/^\s+1\tMemTotal:/);
    expect(r.structuredContent).toMatchObject({ startLine: 1, endLine: 1, truncated: true });
    const b = await call(client, 'file_read', { path: '/proc/meminfo', encoding: 'base64', limit: 9 });
    expect(Buffer.from(b.structuredContent!.content as string, 'base64').toString()).toBe('MemTotal:');
  });

  it('shell_read says when max_bytes stopped it before the end, and when until can no longer match', async () => {
    await call(client, 'shell_start', { name: 'six', command: 'printf abcdef' });
    const done = await call(client, 'shell_read', { processId: 'six', wait_s: 5, until: 'never' });
    await waitFor(async () => !(await call(client, 'shell_read', { processId: 'six' })).structuredContent!.running);
    expect(text(done)).toMatch(/until did not match/);
    const ended = await call(client, 'shell_read', { processId: 'six', until: 'never' });
    expect(text(ended)).toContain('until did not match (the process has ended)');
    const part = await call(client, 'shell_read', { processId: 'six', max_bytes: 4 });
    expect(part.structuredContent).toMatchObject({ output: 'abcd', cursor: 4 });
    expect(text(part)).toContain('[2 more bytes of output: continue with cursor: 4]');
    expect(text(await call(client, 'shell_read', { processId: 'six', cursor: 4, max_bytes: 4 }))).not.toContain(
      'more bytes',
    );
  });

  it("a stdio message over the SDK's 10 MB default (within SANDBOX_MAX_BODY) is served, not a dead session", async () => {
    const r = await sh(client, 'wc -c', { stdin: 'y'.repeat(12 << 20) });
    expect(r.stdout).toBe(`${12 << 20}\n`);
  });

  it('a stdio message over SANDBOX_MAX_BODY says in the log why the session ended', async () => {
    const own = tempDir();
    const small = await stdioClient({ SANDBOX_STATE_DIR: own.dir, SANDBOX_MAX_BODY: String(1 << 20) });
    await expect(call(small.client, 'shell_exec', { command: 'wc -c', stdin: 'y'.repeat(2 << 20) })).rejects.toThrow();
    await waitFor(() => small.stderr.join('').includes('stdio transport closed'));
    const log = small.stderr.join('');
    expect(log).toContain('exceeded maximum size of 1048576 bytes');
    expect(log).toContain('"msg":"stdio transport error"');
    await small.client.close();
    own.cleanup();
  });

  // Last: before the fix this froze the sandbox's agent, and every later call with it.
  it('a catastrophic until regex neither hangs shell_read nor freezes the sandbox', async () => {
    await call(client, 'shell_start', { name: 'redos', command: "printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\\n'" });
    await call(client, 'shell_read', { processId: 'redos', wait_s: 5, until: '!' });
    const started = Date.now();
    const r = (await client.callTool(
      { name: 'shell_read', arguments: { processId: 'redos', until: '(a+)+$' } },
      undefined,
      { timeout: 15_000 },
    )) as ToolResult;
    expect(r.structuredContent).toMatchObject({ matched: false });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await sh(client, 'echo alive')).stdout).toBe('alive\n');
  });

  it('shell_write to a process that never reads its input is refused once 16 MiB are waiting, not buffered forever', () =>
    expectUnreadInputCapped(client));

  it('shell_kill_all ends every process, leftovers of finished commands included, and keeps the files', async () => {
    const marker = `killall-${Date.now()}`;
    await sh(
      client,
      `echo keep > kept.txt; for i in 1 2 3; do setsid bash -c 'sleep 900; : ${marker}' >/dev/null 2>&1 & done; echo started`,
    );
    const bg = await call(client, 'shell_start', { command: `sleep 901; : ${marker}` });
    await waitFor(async () => (await hostProcessesWith(marker)).length >= 4, 10_000);
    const r = await call(client, 'shell_kill_all');
    expect(r.isError, text(r)).toBeFalsy();
    expect(r.structuredContent!.killed).toBeGreaterThanOrEqual(4);
    await waitFor(async () => (await hostProcessesWith(marker)).length === 0, 10_000);
    expect((await sh(client, 'cat kept.txt')).stdout).toBe('keep\n');
    const read = await call(client, 'shell_read', { processId: bg.structuredContent!.processId, wait_s: 5 });
    expect(read.structuredContent).toMatchObject({ running: false, signal: 'SIGKILL' });
  });

  it("shell_kill_all is refused without a process namespace of the sandbox's own (isolation none)", async () => {
    const st = tempDir();
    const { client: unisolated } = await stdioClient({ SANDBOX_STATE_DIR: st.dir, SANDBOX_ISOLATION: 'none' });
    try {
      const r = await call(unisolated, 'shell_kill_all');
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/SANDBOX_ISOLATION=none.*shell_kill/s);
    } finally {
      await unisolated.close();
      st.cleanup();
    }
  });
});
