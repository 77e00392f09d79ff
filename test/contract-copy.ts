import { createHash, randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import type { Sandbox } from '../src/providers/types.js';

/**
 * The FilesApi operations a whole-workspace copy (sandbox-mcp migrate) relies on, for every provider:
 * a complete walk with modes and symlinks, links created as links, chmod, chunked appends and digests.
 * Part of providerContract; `sandbox` is read when each case runs.
 */
export function copyFilesContract(sandbox: () => Sandbox): void {
  const dir = `copy-${randomBytes(4).toString('hex')}`;
  const odd = ['-rf', 'new\nline', 'tab\there', 'ünï 🚀', 'x'.repeat(250)];

  it('walk lists every entry with modes, hidden and ignored ones too, links never followed', async () => {
    const sb = sandbox();
    await sb.files.write(`${dir}/w/.hidden/a.txt`, 'a');
    await sb.files.write(`${dir}/w/node_modules/m/index.js`, 'm');
    await sb.files.write(`${dir}/w/run.sh`, '#!/bin/sh\n', { mode: 0o750 });
    for (const name of odd) await sb.files.write(`${dir}/w/odd/${name}`, name);
    await sb.files.mkdir(`${dir}/w/empty`);
    await sb.files.symlink('/etc', `${dir}/w/out`);
    await sb.files.symlink('../nowhere', `${dir}/w/dangling`);
    const entries = await sb.files.walk(`${dir}/w`, { maxEntries: 1000 });
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(entries.map((e) => e.path)).toEqual([...entries.map((e) => e.path)].sort());
    expect(byPath.get('.hidden/a.txt')).toMatchObject({ type: 'file', size: 1 });
    expect(byPath.get('node_modules/m/index.js')).toMatchObject({ type: 'file' });
    expect(byPath.get('run.sh')).toMatchObject({ type: 'file', mode: 0o750 });
    expect(byPath.get('empty')).toMatchObject({ type: 'directory' });
    expect(byPath.get('out')).toMatchObject({ type: 'symlink', linkTarget: '/etc' });
    expect(byPath.get('dangling')).toMatchObject({ type: 'symlink', linkTarget: '../nowhere' });
    // Not followed: nothing of /etc is listed under the link.
    expect(entries.some((e) => e.path.startsWith('out/'))).toBe(false);
    for (const name of odd)
      expect(byPath.get(`odd/${name}`)).toMatchObject({ type: 'file', size: Buffer.byteLength(name) });
    await expect(sb.files.walk(`${dir}/w`, { maxEntries: 3 })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await expect(sb.files.walk(`${dir}/w/run.sh`, { maxEntries: 10 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('symlink makes a link holding its target as text; an existing path is ALREADY_EXISTS', async () => {
    const sb = sandbox();
    await sb.files.symlink('-dash target\nwith newline', `${dir}/l/-link`);
    expect(await sb.files.walk(`${dir}/l`, { maxEntries: 10 })).toMatchObject([
      { path: '-link', type: 'symlink', linkTarget: '-dash target\nwith newline' },
    ]);
    await expect(sb.files.symlink('elsewhere', `${dir}/l/-link`)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  });

  it('chmod sets file and folder modes and refuses a symlink', async () => {
    const sb = sandbox();
    await sb.files.write(`${dir}/c/f`, 'f');
    await sb.files.chmod(`${dir}/c/f`, 0o604);
    await sb.files.chmod(`${dir}/c`, 0o711);
    const entries = await sb.files.walk(dir, { maxEntries: 1000 });
    expect(entries.find((e) => e.path === 'c/f')?.mode).toBe(0o604);
    expect(entries.find((e) => e.path === 'c')?.mode).toBe(0o711);
    await sb.files.chmod(`${dir}/c`, 0o755);
    await sb.files.symlink('f', `${dir}/c/lf`);
    await expect(sb.files.chmod(`${dir}/c/lf`, 0o777)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await sb.files.walk(`${dir}/c`, { maxEntries: 10 })).find((e) => e.path === 'f')?.mode).toBe(0o604);
  });

  it('append builds a file chunk by chunk and never writes through a symlink', async () => {
    const sb = sandbox();
    const parts = [randomBytes(70_000), Buffer.from('\0\n\xff'), randomBytes(5)];
    for (const part of parts) await sb.files.append(`${dir}/a/big.bin`, part);
    const whole = Buffer.concat(parts);
    expect((await sb.files.read(`${dir}/a/big.bin`)).data.equals(whole)).toBe(true);
    await sb.files.write(`${dir}/a/target`, 'keep');
    await sb.files.symlink('target', `${dir}/a/link`);
    await expect(sb.files.append(`${dir}/a/link`, Buffer.from('x'))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect((await sb.files.read(`${dir}/a/target`)).data.toString()).toBe('keep');
  });

  it('sha256 hashes regular files inside the sandbox, odd names included; a symlink is refused', async () => {
    const sb = sandbox();
    const names = [...odd, 'plain'];
    const bodies = names.map(() => randomBytes(1000));
    for (const [i, name] of names.entries()) await sb.files.write(`${dir}/h/${name}`, bodies[i]!);
    const digests = await sb.files.sha256(names.map((n) => `${dir}/h/${n}`));
    expect(digests).toEqual(bodies.map((b) => createHash('sha256').update(b).digest('hex')));
    await sb.files.symlink('plain', `${dir}/h/link`);
    await expect(sb.files.sha256([`${dir}/h/link`])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
}
