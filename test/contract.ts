import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox, SandboxProvider } from '../src/providers/types.js';
import { copyFilesContract } from './contract-copy.js';

/**
 * Prints the adapters' small files in /tmp newer than the file $1 that outlived their command: a pid
 * file whose process is gone, or a stdin file still there a second later (the wrapper opens and
 * removes it at once). Only newer ones: with a fake, /tmp is this host's, shared with other tests.
 */
const LEFTOVER_FILES = [
  'find /tmp -maxdepth 1 -newer "$1" -name \'.sandbox-mcp-*.pid\' | while read -r f; do',
  '  kill -0 "$(cat "$f" 2>/dev/null)" 2>/dev/null || { [ -e "$f" ] && echo "$f"; }',
  'done',
  'sleep 1',
  'find /tmp -maxdepth 1 -newer "$1" -name \'.sandbox-mcp-*.in\'',
].join('\n');

/**
 * The provider contract: every provider (local, docker, e2b, daytona) must pass this suite, so the
 * tools above it work unchanged on each. `makeProvider` returns a started provider; the suite owns it.
 */
/**
 * `unisolatedFake`: the provider talks to a local fake of a vendor API that runs commands on this
 * host in a temporary folder. The sandbox-boundary tests (host escapes, mount points) then say nothing
 * about the real service and are skipped with a printed reason; everything else runs.
 */
export function providerContract(
  name: string,
  makeProvider: () => Promise<SandboxProvider>,
  opts: { skip?: string; unisolatedFake?: boolean; noSymlinkInfo?: string } = {},
): void {
  const d = opts.skip ? describe.skip : describe;
  if (opts.skip) console.warn(`[contract:${name}] skipped: ${opts.skip}`);
  const boundary = opts.unisolatedFake ? it.skip : it;
  // A vendor file API that cannot tell a symlink from its target (Daytona's) skips the cases about links.
  const links = opts.noSymlinkInfo ? it.skip : it;
  if (opts.noSymlinkInfo) console.warn(`[contract:${name}] symlink cases skipped: ${opts.noSymlinkInfo}`);
  if (opts.unisolatedFake)
    console.warn(`[contract:${name}] sandbox-boundary cases skipped: the fake runs commands unisolated on this host`);
  d(`provider contract: ${name}`, () => {
    let provider: SandboxProvider;
    let sb: Sandbox;
    const labels = { session: `contract-${Date.now()}`, suite: 'contract' };

    beforeAll(async () => {
      provider = await makeProvider();
      sb = await provider.create({ labels, timeoutMs: 120_000 });
    }, 120_000);
    afterAll(async () => {
      await sb?.kill().catch(() => undefined);
      await provider?.shutdown();
    });

    copyFilesContract(() => sb);

    it('exec returns exit code and separate streams; non-zero exit is data', async () => {
      const r = await sb.exec('echo out; echo err >&2; exit 4', { timeoutMs: 30_000 });
      expect(r).toMatchObject({ exitCode: 4, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    });

    it('exec honours cwd, env, stdin and the workdir', async () => {
      expect((await sb.exec('pwd', { timeoutMs: 10_000 })).stdout.trim()).toBe(sb.workdir);
      await sb.exec('mkdir -p c/d', { timeoutMs: 10_000 });
      expect((await sb.exec('pwd', { cwd: 'c/d', timeoutMs: 10_000 })).stdout.trim()).toBe(`${sb.workdir}/c/d`);
      expect((await sb.exec('echo $X', { env: { X: 'y z' }, timeoutMs: 10_000 })).stdout).toBe('y z\n');
      expect((await sb.exec('cat', { stdin: 'piped', timeoutMs: 10_000 })).stdout).toBe('piped');
    });

    it('exec timeout kills the command and reports timedOut', async () => {
      const since = (await sb.exec('mktemp /tmp/contract-since.XXXXXX', { timeoutMs: 10_000 })).stdout.trim();
      const r = await sb.exec('sleep 30 & sleep 31; echo never', { timeoutMs: 1000, stdin: 'unread' });
      expect(r.timedOut).toBe(true);
      expect(r.stdout).not.toContain('never');
      expect(r.durationMs).toBeLessThan(15_000);
      // Adapters that wrap commands keep small files in /tmp: none may outlive its killed command.
      const leftovers = await sb.exec(`set -- ${since}\n${LEFTOVER_FILES}\nrm -f "$1"`, { timeoutMs: 10_000 });
      expect(leftovers.stdout).toBe('');
    });

    it('a missing cwd is an INVALID_ARGUMENT error', async () => {
      await expect(sb.exec('true', { cwd: '/no/such/dir', timeoutMs: 10_000 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    });

    it('background processes: output cursor, stdin, kill, list', async () => {
      const p = await sb.processes.spawn('echo hi; read x; echo "x=$x"; sleep 60', { name: 'bg' });
      expect(p.running).toBe(true);
      const first = await sb.processes.read(p.processId, { waitMs: 10_000, until: 'hi', maxBytes: 1 << 20 });
      expect(first.output).toBe('hi\n');
      await sb.processes.write(p.processId, 'v\n', false);
      const second = await sb.processes.read(p.processId, {
        cursor: first.cursor,
        waitMs: 10_000,
        until: 'x=v',
        maxBytes: 1 << 20,
      });
      expect(second.output).toBe('x=v\n');
      expect((await sb.processes.list()).map((q) => q.processId)).toContain(p.processId);
      await sb.processes.kill(p.processId, 'SIGKILL');
      const end = await sb.processes.read(p.processId, {
        cursor: second.cursor,
        waitMs: 30_000,
        until: '(?!)',
        maxBytes: 1 << 20,
      });
      expect(end.running).toBe(false);
      await expect(sb.processes.read('proc-nope', { maxBytes: 10 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('files: write, read, stat, list, rename, remove; unicode and binary', async () => {
      const text = 'héllo ✓ 世界\n';
      await sb.files.write('dir/a.txt', Buffer.from(text));
      expect((await sb.files.read('dir/a.txt')).data.toString()).toBe(text);
      const bin = Buffer.from([0, 255, 1, 254, 10, 13]);
      await sb.files.write(`${sb.workdir}/dir/b.bin`, bin);
      expect((await sb.files.read('dir/b.bin')).data.equals(bin)).toBe(true);
      expect(await sb.files.stat('dir/a.txt')).toMatchObject({ type: 'file', size: Buffer.byteLength(text) });
      expect((await sb.files.list('dir')).map((e) => e.name).sort()).toEqual(['a.txt', 'b.bin']);
      await sb.files.rename('dir/a.txt', 'dir/c.txt');
      await expect(sb.files.stat('dir/a.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await sb.files.write('dir/d.txt', Buffer.from('d'));
      await expect(sb.files.rename('dir/c.txt', 'dir/d.txt')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      await expect(sb.files.remove('dir')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await sb.files.remove('dir', { recursive: true });
      await expect(sb.files.list('dir')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      // What a command writes, the files API reads, and the other way round.
      await sb.exec('printf shared > from-shell.txt', { timeoutMs: 10_000 });
      expect((await sb.files.read('from-shell.txt')).data.toString()).toBe('shared');
    });

    it('files.readText: line ranges, byte cap, totals and sniffing', async () => {
      await sb.files.write('rt/lines.txt', 'a\nbb\nccc\nd');
      expect(await sb.files.readText('rt/lines.txt', { maxBytes: 1 << 20 })).toMatchObject({
        path: `${sb.workdir}/rt/lines.txt`,
        kind: 'text',
        text: 'a\nbb\nccc\nd',
        startLine: 1,
        endLine: 4,
        totalLines: 4,
        truncated: false,
        size: 10,
      });
      expect(await sb.files.readText('rt/lines.txt', { offset: 2, limit: 2, maxBytes: 1 << 20 })).toMatchObject({
        text: 'bb\nccc\n',
        startLine: 2,
        endLine: 3,
        totalLines: 4,
      });
      // Whole lines within the cap; a first line over the cap is cut on a UTF-8 boundary.
      expect(await sb.files.readText('rt/lines.txt', { maxBytes: 6 })).toMatchObject({
        text: 'a\nbb\n',
        endLine: 2,
        truncated: true,
      });
      await sb.files.write('rt/wide.txt', 'éééé\n');
      expect(await sb.files.readText('rt/wide.txt', { maxBytes: 3 })).toMatchObject({
        text: 'é',
        endLine: 1,
        truncated: true,
      });
      expect(await sb.files.readText('rt/lines.txt', { offset: 9, maxBytes: 100 })).toMatchObject({
        text: '',
        totalLines: 4,
      });
      await sb.files.write('rt/x.png', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
      expect(await sb.files.readText('rt/x.png', { maxBytes: 100 })).toMatchObject({
        kind: 'image',
        mimeType: 'image/png',
        text: '',
      });
      await sb.files.write('rt/x.bin', Buffer.from([1, 0, 2, 0xff]));
      expect(await sb.files.readText('rt/x.bin', { maxBytes: 100 })).toMatchObject({ kind: 'binary', text: '' });
      expect(await sb.files.stat('rt/x.png')).toMatchObject({ kind: 'image', mimeType: 'image/png' });
      await expect(sb.files.readText('rt', { maxBytes: 100 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(sb.files.readText('rt/none', { maxBytes: 100 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    links('files.write: text, mode kept unless given, final symlink followed', async () => {
      const st = await sb.files.write('w/a.sh', 'echo hi\n', { mode: 0o750 });
      expect(st).toMatchObject({ type: 'file', mode: 0o750, size: 8 });
      expect((await sb.files.write('w/a.sh', 'echo bye\n')).mode).toBe(0o750);
      expect((await sb.exec('./w/a.sh', { timeoutMs: 10_000 })).stdout).toBe('bye\n');
      expect((await sb.files.write('w/new.txt', 'x')).mode).toBe(0o644);
      await sb.exec('ln -s a.sh w/link.sh', { timeoutMs: 10_000 });
      await sb.files.write('w/link.sh', 'echo via link\n');
      expect(await sb.files.stat('w/link.sh')).toMatchObject({ type: 'symlink', linkTarget: 'a.sh' });
      expect((await sb.files.read('w/a.sh')).data.toString()).toBe('echo via link\n');
    });

    links('files.tree: depth, glob, hidden and ignored folders, cap', async () => {
      await sb.exec(
        'mkdir -p t/src/deep t/node_modules/m t/.cache && touch t/src/a.ts t/src/deep/b.ts t/src/c.js t/node_modules/m/i.ts t/.hidden t/.cache/x.ts && ln -s src t/ln',
        { timeoutMs: 10_000 },
      );
      const one = await sb.files.tree('t', { depth: 1, maxEntries: 100 });
      expect(one.root).toBe(`${sb.workdir}/t`);
      expect(one.entries.map((e) => [e.path, e.type, !!e.skipped])).toEqual([
        ['t/ln', 'symlink', false],
        ['t/node_modules', 'directory', true],
        ['t/src', 'directory', false],
      ]);
      expect(one.hiddenCount).toBe(2);
      expect(one.truncated).toBe(false);
      const ts = await sb.files.tree('t', { depth: 10, glob: '*.ts', maxEntries: 100 });
      expect(ts.entries.map((e) => e.path)).toEqual(['t/src/a.ts', 't/src/deep/b.ts']);
      const all = await sb.files.tree('t', {
        depth: 10,
        glob: '**/*.ts',
        includeHidden: true,
        includeIgnored: true,
        maxEntries: 100,
      });
      expect(all.entries.map((e) => e.path)).toEqual([
        't/.cache/x.ts',
        't/node_modules/m/i.ts',
        't/src/a.ts',
        't/src/deep/b.ts',
      ]);
      const capped = await sb.files.tree('t', { depth: 10, maxEntries: 2 });
      expect(capped).toMatchObject({ truncated: true });
      expect(capped.entries).toHaveLength(2);
      await expect(sb.files.tree('t/src/a.ts', { depth: 1, maxEntries: 10 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(sb.files.tree('t', { depth: 1, glob: '{x', maxEntries: 10 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    });

    it('files.search: regex per line, glob, case, binary skipped, cap, invalid pattern', async () => {
      await sb.exec(
        'mkdir -p q/n && printf "foo\\nbar Foo\\n" > q/a.txt && printf "x foo\\n" > q/n/b.md && printf "foo\\0" > q/c.bin',
        { timeoutMs: 10_000 },
      );
      const base = { path: 'q', maxResults: 100, caseSensitive: true, timeoutMs: 10_000 };
      const r = await sb.files.search('foo', base);
      expect(r.matches).toEqual([
        { path: 'q/a.txt', line: 1, text: 'foo' },
        { path: 'q/n/b.md', line: 1, text: 'x foo' },
      ]);
      expect(r).toMatchObject({ binarySkipped: 1, truncated: false, timedOut: false, filesSearched: 2 });
      expect((await sb.files.search('^bar foo$', { ...base, caseSensitive: false })).matches).toEqual([
        { path: 'q/a.txt', line: 2, text: 'bar Foo' },
      ]);
      expect((await sb.files.search('foo', { ...base, glob: '*.md' })).matches.map((m) => m.path)).toEqual([
        'q/n/b.md',
      ]);
      expect(await sb.files.search('foo', { ...base, maxResults: 1 })).toMatchObject({
        truncated: true,
        matches: [{ path: 'q/a.txt' }],
      });
      await expect(sb.files.search('(', base)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(sb.files.search('x', { ...base, path: 'q/none' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    boundary('files.rename across mounts and its overwrite rules; remove refuses mount points', async () => {
      await sb.files.write('mv/a.txt', 'A');
      await sb.files.rename('mv', '/tmp/mv-contract');
      expect((await sb.files.read('/tmp/mv-contract/a.txt')).data.toString()).toBe('A');
      await expect(sb.files.stat('mv')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await sb.files.write('mv2.txt', 'B');
      await expect(sb.files.rename('mv2.txt', '/tmp/mv-contract')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      await expect(sb.files.rename('mv2.txt', '/tmp/mv-contract', { overwrite: true })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await sb.files.rename('mv2.txt', '/tmp/mv-contract/a.txt', { overwrite: true });
      expect((await sb.files.read('/tmp/mv-contract/a.txt')).data.toString()).toBe('B');
      await expect(sb.files.remove(sb.workdir, { recursive: true })).rejects.toMatchObject({
        code: 'PERMISSION_DENIED',
      });
      await expect(sb.files.remove('/', { recursive: true })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    });

    boundary('files never reach a host file: symlinks to host paths, host paths, ../ chains', async () => {
      const hostDir = mkdtempSync(path.join(os.tmpdir(), 'sbx-contract-host-'));
      const secret = `contract-secret-${Date.now()}`;
      try {
        writeFileSync(path.join(hostDir, 'marker.txt'), secret);
        await sb.exec(`ln -s ${hostDir}/marker.txt hl && ln -s ${hostDir} hd && ln -s ${hostDir}/made.txt hn`, {
          timeoutMs: 10_000,
        });
        for (const p of ['hl', `${hostDir}/marker.txt`, 'hd/marker.txt', `../../../../..${hostDir}/marker.txt`]) {
          const got = await sb.files.read(p).then(
            (r) => r.data.toString(),
            () => '',
          );
          expect(got).not.toContain(secret);
          const text = await sb.files.readText(p, { maxBytes: 1000 }).then(
            (r) => r.text,
            () => '',
          );
          expect(text).not.toContain(secret);
        }
        const found = await sb.files
          .search('contract-secret', { path: '/tmp', maxResults: 10, caseSensitive: true, timeoutMs: 10_000 })
          .catch(() => undefined);
        expect(JSON.stringify(found ?? {})).not.toContain(secret);
        await sb.files.write('hn', 'sandbox').catch(() => undefined);
        await sb.files.write('hl', 'sandbox').catch(() => undefined);
        await sb.files.remove(`${hostDir}/marker.txt`).catch(() => undefined);
        expect(readFileSync(path.join(hostDir, 'marker.txt'), 'utf8')).toBe(secret);
        expect(() => readFileSync(path.join(hostDir, 'made.txt'))).toThrow();
      } finally {
        rmSync(hostDir, { recursive: true, force: true });
      }
    });

    it('connectPort (where offered): a byte stream to a sandbox port; a closed port is NOT_FOUND', async (ctx) => {
      if (!sb.connectPort) {
        ctx.skip();
        return;
      }
      const p = await sb.processes.spawn(
        `node -e "require('http').createServer((q,s)=>s.end('port says '+q.url)).listen(4811,()=>console.log('up'))"`,
        {},
      );
      await sb.processes.read(p.processId, { waitMs: 15_000, until: 'up', maxBytes: 100 });
      const stream = await sb.connectPort(4811);
      let got = '';
      stream.on('data', (d: Buffer) => {
        got += d.toString();
      });
      const ended = new Promise((r) => stream.once('end', r));
      stream.write('GET /via-bridge HTTP/1.0\r\n\r\n');
      await ended;
      stream.destroy();
      expect(got).toMatch(/^HTTP\/1\.1 200.*port says \/via-bridge$/s);
      await expect(sb.connectPort(4812)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await sb.processes.kill(p.processId, 'SIGKILL');
    });

    it('list finds the sandbox by its labels', async () => {
      const found = await provider.list({ session: labels.session });
      expect(found.map((s) => s.id)).toContain(sb.id);
      expect(await provider.list({ session: 'no-such-session' })).toEqual([]);
    });

    it('kill ends the sandbox: later calls fail with SANDBOX_GONE', async () => {
      const other = await provider.create({ labels: { session: `${labels.session}-k` }, timeoutMs: 60_000 });
      expect(other.isAlive()).toBe(true);
      await other.kill();
      expect(other.isAlive()).toBe(false);
      await expect(other.exec('true', { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'SANDBOX_GONE' });
    });
  });
}
