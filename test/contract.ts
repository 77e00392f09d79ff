import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox, SandboxProvider } from '../src/providers/types.js';

/**
 * The provider contract: every provider (local, docker, e2b, daytona) must pass this suite, so the
 * tools above it work unchanged on each. `makeProvider` returns a started provider; the suite owns it.
 */
export function providerContract(name: string, makeProvider: () => Promise<SandboxProvider>, opts: { skip?: string } = {}): void {
  const d = opts.skip ? describe.skip : describe;
  if (opts.skip) console.warn(`[contract:${name}] skipped: ${opts.skip}`);
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
      const r = await sb.exec('sleep 30 & sleep 31; echo never', { timeoutMs: 1000 });
      expect(r.timedOut).toBe(true);
      expect(r.stdout).not.toContain('never');
      expect(r.durationMs).toBeLessThan(15_000);
    });

    it('a missing cwd is an INVALID_ARGUMENT error', async () => {
      await expect(sb.exec('true', { cwd: '/no/such/dir', timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('background processes: output cursor, stdin, kill, list', async () => {
      const p = await sb.processes.spawn('echo hi; read x; echo "x=$x"; sleep 60', { name: 'bg' });
      expect(p.running).toBe(true);
      const first = await sb.processes.read(p.processId, { waitMs: 10_000, until: 'hi', maxBytes: 1 << 20 });
      expect(first.output).toBe('hi\n');
      await sb.processes.write(p.processId, 'v\n', false);
      const second = await sb.processes.read(p.processId, { cursor: first.cursor, waitMs: 10_000, until: 'x=v', maxBytes: 1 << 20 });
      expect(second.output).toBe('x=v\n');
      expect((await sb.processes.list()).map((q) => q.processId)).toContain(p.processId);
      await sb.processes.kill(p.processId, 'SIGKILL');
      const end = await sb.processes.read(p.processId, { cursor: second.cursor, waitMs: 10_000, until: '(?!)', maxBytes: 1 << 20 });
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

    it('connectPort (where offered): a byte stream to a sandbox port; a closed port is NOT_FOUND', async (ctx) => {
      if (!sb.connectPort) { ctx.skip(); return; }
      const p = await sb.processes.spawn(`node -e "require('http').createServer((q,s)=>s.end('port says '+q.url)).listen(4811,()=>console.log('up'))"`, {});
      await sb.processes.read(p.processId, { waitMs: 15_000, until: 'up', maxBytes: 100 });
      const stream = await sb.connectPort(4811);
      let got = '';
      stream.on('data', (d: Buffer) => { got += d.toString(); });
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
