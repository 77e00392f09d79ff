import { createHash } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, sh, stdioClient, tempDir, text, type ToolResult } from './helpers.js';

const READ_CAP = 64 * 1024;
/** A 1x1 transparent PNG. */
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

const structured = <T = Record<string, unknown>>(r: ToolResult) => r.structuredContent as T;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('file tools over stdio', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;
  const read = async (path: string, extra: Record<string, unknown> = {}) => {
    const r = await call(client, 'file_read', { path, ...extra });
    if (r.isError) throw new Error(`file_read failed: ${text(r)}`);
    return r;
  };
  const write = async (path: string, content: string, extra: Record<string, unknown> = {}) => {
    const r = await call(client, 'file_write', { path, content, ...extra });
    if (r.isError) throw new Error(`file_write failed: ${text(r)}`);
    return r;
  };

  beforeAll(async () => {
    state = tempDir();
    ({ client } = await stdioClient({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_MAX_READ: String(READ_CAP),
      SANDBOX_SEARCH_TIMEOUT: '3',
      // The read cap is the subject here: a result budget above it (test/surface-budget.test.ts holds the budget).
      SANDBOX_RESULT_MAX_KB: '256',
    }));
  });
  afterAll(async () => {
    await client?.close();
    state?.cleanup();
  });

  it('lists every file tool with annotations a client can rely on', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ['file_read', 'file_list', 'file_search', 'file_info']) {
      expect(byName.get(name)?.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true });
    }
    for (const name of ['file_write', 'file_edit', 'file_move', 'file_delete']) {
      expect(byName.get(name)?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    }
    expect(byName.get('file_write')!.annotations!.idempotentHint).toBe(true);
    expect(byName.get('file_edit')!.annotations!.idempotentHint).toBe(false);
    expect(byName.get('file_read')!.outputSchema?.properties).toHaveProperty('totalLines');
  });

  it('round-trips unicode exactly, creating parent folders; the shell sees the same bytes', async () => {
    const content = 'héllo ✓ 世界 🎉\nעברית, e\u0301, Ω\r\n\ttab\nno newline at end';
    const w = await write('deep/er/unicode.txt', content);
    expect(structured(w)).toMatchObject({
      path: '/workspace/deep/er/unicode.txt',
      size: Buffer.byteLength(content),
      mode: '0644',
    });
    const r = await read('deep/er/unicode.txt');
    expect(structured(r)).toMatchObject({ content, totalLines: 4, startLine: 1, endLine: 4, truncated: false });
    expect(text(r)).toContain('     1\théllo ✓ 世界 🎉');
    expect(text(r)).toContain('     4\tno newline at end');
    expect((await sh(client, 'sha256sum deep/er/unicode.txt')).stdout.slice(0, 64)).toBe(sha256(content));
  });

  it('reads line ranges with numbers, the total count and how to continue', async () => {
    await write('ten.txt', Array.from({ length: 10 }, (_, i) => `l${i + 1}`).join('\n') + '\n');
    const r = await read('ten.txt', { offset: 3, limit: 2 });
    expect(structured(r)).toMatchObject({
      content: 'l3\nl4\n',
      startLine: 3,
      endLine: 4,
      totalLines: 10,
      truncated: true,
    });
    expect(text(r)).toBe('     3\tl3\n     4\tl4\n[showing lines 3-4 of 10. Continue with offset: 5]');
    expect(structured(await read('ten.txt', { offset: 9 }))).toMatchObject({
      content: 'l9\nl10\n',
      endLine: 10,
      truncated: false,
    });
    const past = await call(client, 'file_read', { path: 'ten.txt', offset: 11 });
    expect(past.isError).toBe(true);
    expect(text(past)).toMatch(/offset 11 is past the end.*10 lines.*from 1 to 10/);
    await write('empty.txt', '');
    expect(text(await read('empty.txt'))).toMatch(/is empty/);
  });

  it('reads a 10 MB file by range, and whole only up to the cap with a note on paging', async () => {
    await sh(client, 'seq 1 1500000 > big.txt');
    const size = Number((await sh(client, 'stat -c %s big.txt')).stdout.trim());
    expect(size).toBeGreaterThan(10_000_000);
    const range = await read('big.txt', { offset: 1_000_000, limit: 3 });
    expect(structured(range)).toMatchObject({ content: '1000000\n1000001\n1000002\n', totalLines: 1_500_000, size });
    const whole = await read('big.txt');
    const s = structured<{ content: string; endLine: number; truncated: boolean }>(whole);
    expect(s.truncated).toBe(true);
    expect(Buffer.byteLength(s.content)).toBeLessThanOrEqual(READ_CAP);
    expect(Buffer.byteLength(s.content)).toBeGreaterThan(READ_CAP - 10);
    expect(s.content.endsWith(`${s.endLine}\n`)).toBe(true);
    expect(text(whole)).toContain(
      `[showing lines 1-${s.endLine} of 1500000: the 64 KB read cap was reached. Continue with offset: ${s.endLine + 1}]`,
    );
    const next = await read('big.txt', { offset: s.endLine + 1, limit: 1 });
    expect(structured(next).content).toBe(`${s.endLine + 1}\n`);
    // One line longer than the cap comes back cut, on a character boundary, with a note.
    await sh(
      client,
      `python3 -c "print('é' * 100000)" > long.txt 2>/dev/null || node -e "console.log('é'.repeat(100000))" > long.txt`,
    );
    const long = await read('long.txt');
    expect(structured<{ content: string }>(long).content).toBe('é'.repeat(READ_CAP / 2));
    expect(text(long)).toMatch(/line 1 is longer than the 64 KB read cap and was cut/);
  });

  it('returns images as image content and refuses other binary unless base64 is asked for', async () => {
    await write('dot.png', PNG_B64, { encoding: 'base64' });
    const img = await read('dot.png');
    const image = img.content.find((c) => c.type === 'image') as { data: string; mimeType: string } | undefined;
    expect(image).toMatchObject({ mimeType: 'image/png', data: PNG_B64 });
    expect(structured(img)).toMatchObject({
      kind: 'image',
      mimeType: 'image/png',
      size: Buffer.from(PNG_B64, 'base64').length,
    });
    await write('anim.gif', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1').toString('base64'), {
      encoding: 'base64',
    });
    expect(structured(await read('anim.gif')).mimeType).toBe('image/gif');
    await write('pic.webp', Buffer.from('RIFF\x1a\x00\x00\x00WEBPVP8L', 'latin1').toString('base64'), {
      encoding: 'base64',
    });
    expect(structured(await read('pic.webp')).mimeType).toBe('image/webp');

    const bytes = Buffer.from([0, 1, 2, 254, 255, 10, 0, 7]);
    await write('blob.bin', bytes.toString('base64'), { encoding: 'base64' });
    const refused = await call(client, 'file_read', { path: 'blob.bin' });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/binary file.*encoding: "base64"/);
    const b64 = await read('blob.bin', { encoding: 'base64' });
    expect(Buffer.from(structured<{ content: string }>(b64).content, 'base64').equals(bytes)).toBe(true);
    const part = await read('blob.bin', { encoding: 'base64', offset: 3, limit: 2 });
    expect(structured(part)).toMatchObject({
      content: Buffer.from([254, 255]).toString('base64'),
      offset: 3,
      bytes: 2,
      size: 8,
      truncated: true,
    });
    expect(text(part)).toContain('continue with offset: 5');
    // Invalid UTF-8 without NULs is binary too, not mojibake.
    await write('latin1.txt', Buffer.from('caf\xe9 cr\xe8me', 'latin1').toString('base64'), { encoding: 'base64' });
    expect(text(await call(client, 'file_read', { path: 'latin1.txt' }))).toMatch(/binary.*iconv/);
  });

  it('keeps an existing mode on rewrite and sets one when asked', async () => {
    await write('run.sh', '#!/bin/sh\necho one\n');
    await sh(client, 'chmod 750 run.sh');
    const w = await write('run.sh', '#!/bin/sh\necho two\n');
    expect(structured(w).mode).toBe('0750');
    expect((await sh(client, 'stat -c %a run.sh && ./run.sh')).stdout).toBe('750\ntwo\n');
    await call(client, 'file_edit', { path: 'run.sh', edits: [{ old_text: 'two', new_text: 'three' }] });
    expect((await sh(client, 'stat -c %a run.sh && ./run.sh')).stdout).toBe('750\nthree\n');
    expect(structured(await write('run.sh', 'x', { mode: '600' })).mode).toBe('0600');
    expect(structured(await write('new.sh', 'x', { mode: '0o755' })).mode).toBe('0755');
  });

  it('writes atomically: a reader looping during big rewrites never sees a partial file', async () => {
    const a = 'A'.repeat(2_000_000) + '\n';
    const b = 'B'.repeat(3_000_000) + '\n';
    await write('atomic.txt', a);
    const reader = await call(client, 'shell_start', {
      command: 'rm -f stop hashes; while [ ! -e stop ]; do md5sum < atomic.txt >> hashes; done; echo done',
    });
    const processId = structured<{ processId: string }>(reader).processId;
    for (let i = 0; i < 12; i++) await write('atomic.txt', i % 2 ? a : b);
    await sh(client, 'touch stop');
    await call(client, 'shell_read', { processId, wait_s: 10, until: 'done' });
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const seen = new Set((await sh(client, 'cut -c1-32 hashes')).stdout.trim().split('\n'));
    expect(seen.size).toBeGreaterThan(0);
    expect([...seen].filter((h) => h !== md5(a) && h !== md5(b))).toEqual([]);
    expect((await sh(client, 'ls -a | grep -c "\\.tmp$" || true')).stdout.trim()).toBe('0');
  });

  describe('file_edit', () => {
    const original = 'alpha\nbeta\ngamma\nbeta\n';
    const current = async () => structured<{ content: string }>(await read('e.txt')).content;

    it('applies edits in order and returns a unified diff', async () => {
      await write('e.txt', original);
      const r = await call(client, 'file_edit', {
        path: 'e.txt',
        edits: [
          { old_text: 'alpha', new_text: 'ALPHA' },
          { old_text: 'gamma\nbeta', new_text: 'gamma\nBETA' },
        ],
      });
      expect(r.isError).toBeFalsy();
      expect(structured(r)).toMatchObject({ edits: 2, replacements: 2, dryRun: false });
      const diff = structured<{ diff: string }>(r).diff;
      expect(diff).toContain('--- e.txt\n+++ e.txt\n@@ -1,4 +1,4 @@\n-alpha\n+ALPHA\n beta\n gamma\n-beta\n+BETA\n');
      expect(await current()).toBe('ALPHA\nbeta\ngamma\nBETA\n');
    });

    it('an ambiguous old_text is an error naming the lines; replace_all replaces every match', async () => {
      await write('e.txt', original);
      const r = await call(client, 'file_edit', { path: 'e.txt', edits: [{ old_text: 'beta', new_text: 'x' }] });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/matches 2 times in e.txt \(lines 2, 4\).*replace_all.*unchanged/);
      expect(await current()).toBe(original);
      const all = await call(client, 'file_edit', {
        path: 'e.txt',
        edits: [{ old_text: 'beta', new_text: 'x', replace_all: true }],
      });
      expect(structured(all)).toMatchObject({ replacements: 2 });
      expect(await current()).toBe('alpha\nx\ngamma\nx\n');
    });

    it('is all or nothing: a later failing edit leaves the file untouched and names the edit', async () => {
      await write('e.txt', original);
      const r = await call(client, 'file_edit', {
        path: 'e.txt',
        edits: [
          { old_text: 'alpha', new_text: 'A' },
          { old_text: 'delta', new_text: 'D' },
        ],
      });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/edit 2 of 2: old_text was not found in e\.txt/);
      expect(await current()).toBe(original);
      const ws = await call(client, 'file_edit', {
        path: 'e.txt',
        edits: [{ old_text: 'alpha\n  beta', new_text: 'x' }],
      });
      expect(text(ws)).toMatch(/line 1 only when whitespace is ignored/);
      const chained = await call(client, 'file_edit', {
        path: 'e.txt',
        edits: [
          { old_text: 'alpha', new_text: 'A' },
          { old_text: 'alpha', new_text: 'B' },
        ],
      });
      expect(text(chained)).toMatch(/edit 2 of 2.*earlier edit in this call changed that text/);
      expect(await current()).toBe(original);
    });

    it('dry_run returns the diff and writes nothing; CRLF files are matched with \\n', async () => {
      await write('e.txt', original);
      const r = await call(client, 'file_edit', {
        path: 'e.txt',
        edits: [{ old_text: 'gamma', new_text: 'GAMMA' }],
        dry_run: true,
      });
      expect(structured(r)).toMatchObject({ dryRun: true });
      expect(structured<{ diff: string }>(r).diff).toContain('-gamma\n+GAMMA');
      expect(text(r)).toMatch(/Dry run, nothing written/);
      expect(await current()).toBe(original);
      await write('crlf.txt', 'one\r\ntwo\r\nthree\r\n');
      const c = await call(client, 'file_edit', {
        path: 'crlf.txt',
        edits: [{ old_text: 'one\ntwo', new_text: 'one\n2' }],
      });
      expect(c.isError).toBeFalsy();
      expect(structured<{ content: string }>(await read('crlf.txt')).content).toBe('one\r\n2\r\nthree\r\n');
    });

    it('refuses binary files and a one-line change in a 10 MB file stays quick', async () => {
      const bin = await call(client, 'file_edit', { path: 'blob.bin', edits: [{ old_text: 'a', new_text: 'b' }] });
      expect(text(bin)).toMatch(/binary file/);
      const r = await call(client, 'file_edit', {
        path: 'big.txt',
        edits: [{ old_text: '\n777777\n', new_text: '\nseven\n' }],
      });
      expect(r.isError).toBeFalsy();
      expect(structured<{ diff: string }>(r).diff).toContain(
        '@@ -777774,7 +777774,7 @@\n 777774\n 777775\n 777776\n-777777\n+seven\n',
      );
      expect(structured(await read('big.txt', { offset: 777777, limit: 1 })).content).toBe('seven\n');
    });
  });

  it('file_list: types, sizes, times, depth, glob, ignored and hidden folders, truncation', async () => {
    await sh(
      client,
      'mkdir -p proj/src/lib proj/node_modules/dep proj/.git && touch proj/src/a.ts proj/src/lib/b.ts proj/src/c.js proj/node_modules/dep/x.ts proj/.env proj/README.md && ln -s src/a.ts proj/link.ts',
    );
    const top = await call(client, 'file_list', { path: 'proj' });
    const s = structured<{
      root: string;
      entries: { path: string; type: string; size: number; mtime: string; linkTarget?: string; skipped?: boolean }[];
      hiddenCount: number;
      truncated: boolean;
    }>(top);
    expect(s.root).toBe('/workspace/proj');
    expect(s.entries.map((e) => e.path)).toEqual(['proj/README.md', 'proj/link.ts', 'proj/node_modules', 'proj/src']);
    expect(s.entries.find((e) => e.path === 'proj/link.ts')).toMatchObject({ type: 'symlink', linkTarget: 'src/a.ts' });
    expect(s.entries.find((e) => e.path === 'proj/node_modules')).toMatchObject({ type: 'directory', skipped: true });
    expect(s.entries[0]!.mtime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(s.hiddenCount).toBe(2);
    expect(text(top)).toMatch(/2 hidden entries.*include_hidden/);
    const ts = structured<typeof s>(await call(client, 'file_list', { path: 'proj', glob: '*.ts' }));
    expect(ts.entries.map((e) => e.path)).toEqual(['proj/link.ts', 'proj/src/a.ts', 'proj/src/lib/b.ts']);
    const withDeps = structured<typeof s>(
      await call(client, 'file_list', { path: 'proj', glob: '**/*.ts', include_ignored: true, include_hidden: true }),
    );
    expect(withDeps.entries.map((e) => e.path)).toContain('proj/node_modules/dep/x.ts');
    const pathGlob = structured<typeof s>(await call(client, 'file_list', { path: 'proj', glob: 'src/*.{ts,js}' }));
    expect(pathGlob.entries.map((e) => e.path)).toEqual(['proj/src/a.ts', 'proj/src/c.js']);
    const two = structured<typeof s>(await call(client, 'file_list', { path: 'proj', depth: 2 }));
    expect(two.entries.map((e) => e.path)).toContain('proj/src/lib');
    expect(two.entries.map((e) => e.path)).not.toContain('proj/src/lib/b.ts');
    const capped = await call(client, 'file_list', { path: 'proj', depth: 3, max_entries: 2 });
    expect(structured(capped)).toMatchObject({ truncated: true });
    expect(structured<typeof s>(capped).entries).toHaveLength(2);
    expect(text(capped)).toMatch(/truncated: more entries exist/);
  });

  it('file_search: path:line: text, case, glob, binary skipped, capped with a note', async () => {
    await sh(
      client,
      'mkdir -p s/sub s/node_modules && printf "one\\nTODO fix\\nthree todo\\n" > s/a.txt && printf "x\\nTODO: b\\n" > s/sub/b.md && printf "TODO\\0bin" > s/c.bin && echo TODO > s/node_modules/d.txt',
    );
    const r = await call(client, 'file_search', { pattern: 'TODO', path: 's' });
    expect(text(r)).toBe('s/a.txt:2: TODO fix\ns/sub/b.md:2: TODO: b\n[skipped 1 binary file(s)]');
    expect(structured(r)).toMatchObject({ binarySkipped: 1, truncated: false, filesSearched: 2 });
    const ci = await call(client, 'file_search', { pattern: '^\\w+ todo$', path: 's', case_sensitive: false });
    expect(structured<{ matches: unknown[] }>(ci).matches).toEqual([{ path: 's/a.txt', line: 3, text: 'three todo' }]);
    const md = await call(client, 'file_search', { pattern: 'TODO', path: 's', glob: '*.md' });
    expect(structured<{ matches: { path: string }[] }>(md).matches.map((m) => m.path)).toEqual(['s/sub/b.md']);
    await sh(client, 'seq 1 5000 > s/many.txt');
    const capped = await call(client, 'file_search', { pattern: '7', path: 's/many.txt', max_results: 5 });
    expect(structured(capped)).toMatchObject({ truncated: true });
    expect(structured<{ matches: unknown[] }>(capped).matches).toHaveLength(5);
    expect(text(capped)).toMatch(/stopped at 5 matches.*max_results/);
    const none = await call(client, 'file_search', { pattern: 'nothing-here', path: 's' });
    expect(text(none)).toMatch(/No matches/);
  });

  it('a runaway regex is stopped at the search time limit with its partial results, and the sandbox keeps answering', async () => {
    await sh(
      client,
      `mkdir -p redos && echo aaaa > redos/a-early.txt && printf '${'a'.repeat(40)}!\\n' > redos/b-slow.txt`,
    );
    const started = Date.now();
    const search = call(client, 'file_search', { pattern: '^(a+)+$', path: 'redos' });
    await new Promise((r) => setTimeout(r, 500));
    // The sandbox answers a command while the search still runs: the echo comes back first.
    const alive = sh(client, 'echo alive');
    expect(await Promise.race([alive.then(() => 'echo'), search.then(() => 'search')])).toBe('echo');
    expect((await alive).stdout).toBe('alive\n');
    const r = await search;
    expect(r.isError).toBeFalsy();
    expect(structured(r)).toMatchObject({
      timedOut: true,
      matches: [{ path: 'redos/a-early.txt', line: 1, text: 'aaaa' }],
    });
    expect(text(r)).toMatch(/stopped after 3 s: results are partial.*simplify the pattern/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses FIFOs and devices instead of hanging on them', async () => {
    await sh(client, 'mkfifo pipe');
    for (const p of ['pipe', '/dev/zero']) {
      const r = await call(client, 'file_read', { path: p });
      expect(text(r)).toMatch(/not a regular file.*shell_exec/);
    }
    expect(text(await call(client, 'file_edit', { path: 'pipe', edits: [{ old_text: 'a', new_text: 'b' }] }))).toMatch(
      /not a regular file/,
    );
    expect(structured(await call(client, 'file_info', { path: 'pipe' }))).toMatchObject({ type: 'other' });
    expect((await sh(client, 'echo responsive')).stdout).toBe('responsive\n');
  });

  it('file_move, file_delete and file_info', async () => {
    await write('m/one.txt', '1');
    await write('m/two.txt', '2');
    const clash = await call(client, 'file_move', { from: 'm/one.txt', to: 'm/two.txt' });
    expect(text(clash)).toMatch(/already exists.*overwrite: true/);
    expect(
      (await call(client, 'file_move', { from: 'm/one.txt', to: 'm/two.txt', overwrite: true })).isError,
    ).toBeFalsy();
    expect(structured(await read('m/two.txt')).content).toBe('1');
    // Across mounts (/workspace to /tmp) a move is a copy, then a delete.
    expect((await call(client, 'file_move', { from: 'm', to: '/tmp/m-moved' })).isError).toBeFalsy();
    expect((await sh(client, 'cat /tmp/m-moved/two.txt; test -e m || echo gone')).stdout).toBe('1gone\n');
    expect(text(await call(client, 'file_move', { from: '/tmp/m-moved', to: '/tmp/m-moved/inner' }))).toMatch(
      /into itself/,
    );

    await sh(client, 'mkdir -p d/x && echo keep > d/target && ln -s target d/link');
    const info = await call(client, 'file_info', { path: 'd/link' });
    expect(structured(info)).toMatchObject({ type: 'symlink', linkTarget: 'target', path: '/workspace/d/link' });
    expect(structured(await call(client, 'file_info', { path: 'd/target' }))).toMatchObject({
      type: 'file',
      kind: 'text',
      size: 5,
      mode: '0644',
    });
    expect(structured(await call(client, 'file_info', { path: 'dot.png' }))).toMatchObject({
      kind: 'image',
      mimeType: 'image/png',
    });
    expect(structured(await call(client, 'file_info', { path: 'd' }))).toMatchObject({ type: 'directory' });
    expect((await call(client, 'file_delete', { path: 'd/link' })).isError).toBeFalsy();
    expect((await sh(client, 'cat d/target')).stdout).toBe('keep\n');
    expect(text(await call(client, 'file_delete', { path: 'd' }))).toMatch(/directory.*recursive: true/);
    expect(text(await call(client, 'file_delete', { path: 'd', recursive: true }))).toMatch(
      /Deleted folder \/workspace\/d and its contents/,
    );
    expect(text(await call(client, 'file_delete', { path: 'd' }))).toMatch(/no such file/);
    expect(text(await call(client, 'file_delete', { path: '/workspace', recursive: true }))).toMatch(/mount point/);
    expect((await sh(client, 'test -e ten.txt && echo intact')).stdout).toBe('intact\n');
  });

  describe('bad input gets an isError result that says how to recover', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['file_read', {}, /path/],
      ['file_read', { path: '' }, /path must not be empty/],
      ['file_read', { path: 'a\0b' }, /NUL/],
      ['file_read', { path: 'missing.txt' }, /no such file.*file_list/],
      ['file_read', { path: 'deep' }, /is a directory.*file_list/],
      ['file_read', { path: 'ten.txt', offset: 0 }, /1-based/],
      ['file_read', { path: 'ten.txt', offset: -1 }, /offset must be >= 1/],
      ['file_read', { path: 'ten.txt', offset: 1.5 }, /whole number/],
      ['file_read', { path: 'ten.txt', limit: 0 }, /limit must be at least 1/],
      ['file_read', { path: 'ten.txt', encoding: 'latin1' }, /encoding/],
      ['file_write', { path: 'x.txt' }, /content/],
      ['file_write', { path: '', content: 'x' }, /path must not be empty/],
      ['file_write', { path: 'x.txt', content: 'x', mode: '999' }, /not an octal permission.*"644"/],
      ['file_write', { path: 'x.txt', content: 'x', mode: 755 }, /mode/],
      ['file_write', { path: 'x.txt', content: 'not base64!', encoding: 'base64' }, /not valid base64/],
      ['file_write', { path: 'deep', content: 'x' }, /is a directory/],
      ['file_write', { path: '/usr/evil.txt', content: 'x' }, /read-only file system/],
      ['file_edit', { path: 'ten.txt', edits: [] }, /at least one edit/],
      ['file_edit', { path: 'ten.txt' }, /edits/],
      ['file_edit', { path: 'ten.txt', edits: [{ old_text: 'l1' }] }, /new_text/],
      ['file_edit', { path: 'ten.txt', edits: [{ old_text: '', new_text: 'x' }] }, /old_text is empty/],
      ['file_edit', { path: 'ten.txt', edits: [{ old_text: 'l1', new_text: 'l1' }] }, /changes nothing/],
      ['file_edit', { path: 'ten.txt', edits: [{ old_text: 'l1', new_text: 'x', replace_all: 'yes' }] }, /replace_all/],
      ['file_edit', { path: 'ten.txt', edits: [{ old: 'l1', new_text: 'x' }] }, /old_text|unrecognized/i],
      ['file_edit', { path: 'ten.txt', edits: [{ old_text: 'l1', new_text: 'x' }], dry_run: 'no' }, /dry_run/],
      ['file_edit', { path: 'missing.txt', edits: [{ old_text: 'a', new_text: 'b' }] }, /no such file/],
      ['file_list', { path: 'missing' }, /no such file/],
      ['file_list', { path: 'ten.txt' }, /is a file, not a folder/],
      ['file_list', { depth: 0 }, /depth must be at least 1/],
      ['file_list', { depth: 100 }, /depth is at most 32/],
      ['file_list', { glob: '' }, /glob must not be empty/],
      ['file_list', { glob: '*.{ts' }, /unclosed \{/],
      ['file_list', { max_entries: 0 }, /max_entries must be at least 1/],
      ['file_list', { include_hidden: 'yes' }, /include_hidden/],
      ['file_search', {}, /pattern/],
      ['file_search', { pattern: '' }, /pattern must not be empty/],
      ['file_search', { pattern: '(unclosed' }, /invalid regex.*escape special characters/],
      ['file_search', { pattern: 'x', path: 'missing' }, /no such file/],
      ['file_search', { pattern: 'x', glob: '{a' }, /unclosed/],
      ['file_search', { pattern: 'x', max_results: 0 }, /max_results must be at least 1/],
      ['file_search', { pattern: 'x', max_results: 5000 }, /max_results is at most 1000/],
      ['file_search', { pattern: 'x', case_sensitive: 'no' }, /case_sensitive/],
      ['file_move', { from: 'missing', to: 'x' }, /no such file/],
      ['file_move', { from: 'ten.txt' }, /to/],
      ['file_move', { from: 'ten.txt', to: 'deep', overwrite: true }, /is a folder and cannot be replaced by a file/],
      ['file_move', { from: 'ten.txt', to: '/usr/ten.txt' }, /read-only file system/],
      ['file_delete', {}, /path/],
      ['file_delete', { path: 'missing' }, /no such file/],
      ['file_delete', { path: '/', recursive: true }, /mount point/],
      ['file_delete', { path: 'deep', recursive: 1 }, /recursive/],
      ['file_info', { path: 'missing' }, /no such file/],
      ['file_info', { path: '' }, /path must not be empty/],
    ];
    it.each(cases)('%s %j', async (tool, args, message) => {
      const r = await call(client, tool, args);
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(message);
    });
  });
});
