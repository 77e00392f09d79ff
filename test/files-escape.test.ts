import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, sh, stdioClient, tempDir, text, type ToolResult } from './helpers.js';

function available(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const SECRET = `host-secret-${process.pid}-${Date.now()}`;

/** A result that shows host content is a failure whatever else it says. */
function neverHost(r: ToolResult): void {
  expect(JSON.stringify(r)).not.toContain(SECRET);
}

for (const isolation of ['bwrap', 'unshare'] as const) {
  const skip = available(isolation) ? undefined : `${isolation} is not installed`;
  if (skip) console.warn(`[files-escape:${isolation}] skipped: ${skip}`);
  (skip ? describe.skip : describe)(`file tools never reach host files (${isolation})`, () => {
    let client: Client;
    let state: ReturnType<typeof tempDir>;
    let host: ReturnType<typeof tempDir>;
    let hostFile: string;

    beforeAll(async () => {
      state = tempDir();
      host = tempDir('sbx-host-');
      hostFile = path.join(host.dir, 'marker.txt');
      writeFileSync(hostFile, `${SECRET}\n`);
      mkdirSync(path.join(host.dir, 'folder'));
      writeFileSync(path.join(host.dir, 'folder', 'inner.txt'), `${SECRET}\n`);
      ({ client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_ISOLATION: isolation }));
      await sh(
        client,
        [
          'ln -s / rootlink',
          'ln -s /etc/shadow shadowlink',
          'ln -s /etc/passwd passwdlink',
          `ln -s ${host.dir} hostdir`,
          `ln -s ${hostFile} hostfile`,
          `ln -s ${host.dir}/created.txt hostnew`,
          `ln -s ${state.dir} statedir`,
          'echo movable > ten.txt',
        ].join(' && '),
      );
    });
    afterAll(async () => {
      await client?.close();
      state?.cleanup();
      host?.cleanup();
    });

    it('a symlink to / shows the sandbox root, not the host one', async () => {
      const r = await call(client, 'file_read', { path: 'rootlink/etc/passwd' });
      expect(r.isError).toBeFalsy();
      expect(r.structuredContent!.content).toContain('sandbox user');
      expect(r.structuredContent!.content).not.toBe(readFileSync('/etc/passwd', 'utf8'));
      const top = structuredPaths(await call(client, 'file_list', { path: 'rootlink' }));
      expect(top).toContain('rootlink/workspace');
      expect(top).not.toContain('rootlink/root');
      expect(structuredPaths(await call(client, 'file_list', { path: 'rootlink/home' }))).toEqual([
        'rootlink/home/user',
      ]);
    });

    it('a symlink to /etc/shadow and to /etc/passwd see the sandbox /etc only', async () => {
      const shadow = await call(client, 'file_read', { path: 'shadowlink' });
      expect(shadow.isError).toBe(true);
      expect(text(shadow)).toMatch(/no such file/);
      expect(text(await call(client, 'file_read', { path: '/etc/shadow' }))).toMatch(/no such file/);
      expect((await call(client, 'file_read', { path: 'passwdlink' })).structuredContent!.content).toContain(
        'sandbox user',
      );
    });

    it('a symlink to a host file or folder, and the host path itself, never show host content', async () => {
      for (const p of [
        'hostfile',
        'hostdir/marker.txt',
        hostFile,
        `../../../../../..${hostFile}`,
        `hostdir/folder/inner.txt`,
        'statedir',
      ]) {
        for (const tool of ['file_read', 'file_info', 'file_list', 'file_search']) {
          const r = await call(
            client,
            tool,
            tool === 'file_search' ? { pattern: 'host-secret', path: p } : { path: p },
          );
          neverHost(r);
          // file_info describes a link itself (lstat), which is sandbox data; anything else must fail.
          if (tool === 'file_info' && !r.isError) expect(r.structuredContent!.type).toBe('symlink');
          else expect(r.isError, `${tool} ${p}: ${text(r)}`).toBe(true);
        }
      }
      for (const p of ['/tmp', '/etc', '/home', '/workspace'])
        neverHost(await call(client, 'file_search', { pattern: 'host-secret', path: p, include_hidden: true }));
      expect(text(await call(client, 'file_read', { path: `${state.dir}/sandboxes` }))).toMatch(/no such file/);
    });

    it('../ chains stop at the sandbox root', async () => {
      const r = await call(client, 'file_read', { path: '../../../../../../../../etc/hostname' });
      expect(r.structuredContent!.content).toBe('sandbox\n');
      expect(text(await call(client, 'file_read', { path: `../../../..${hostFile}` }))).toMatch(/no such file/);
      const listed = await call(client, 'file_list', { path: '../../../..' });
      expect(structuredPaths(listed)).not.toContain(host.dir);
    });

    it('writing through a symlink to a host path, or to a host path, never creates or changes a host file', async () => {
      const viaLink = await call(client, 'file_write', { path: 'hostnew', content: 'from sandbox' });
      neverHost(viaLink);
      expect(existsSync(path.join(host.dir, 'created.txt'))).toBe(false);
      for (const p of [
        hostFile,
        'hostfile',
        'hostdir/marker.txt',
        `${host.dir}/created2.txt`,
        'hostdir/folder/new.txt',
      ]) {
        await call(client, 'file_write', { path: p, content: 'overwritten' });
        await call(client, 'file_edit', { path: p, edits: [{ old_text: SECRET, new_text: 'edited' }] });
      }
      for (const [from, to] of [
        [hostFile, 'stolen.txt'],
        ['hostdir/marker.txt', 'stolen2.txt'],
        ['ten.txt', `${host.dir}/moved.txt`],
      ] as const) {
        neverHost(await call(client, 'file_move', { from, to }));
      }
      await call(client, 'file_delete', { path: hostFile });
      await call(client, 'file_delete', { path: 'hostdir/folder', recursive: true });
      await call(client, 'file_delete', { path: 'hostdir', recursive: true });
      expect(readFileSync(hostFile, 'utf8')).toBe(`${SECRET}\n`);
      expect(readFileSync(path.join(host.dir, 'folder', 'inner.txt'), 'utf8')).toBe(`${SECRET}\n`);
      expect(existsSync(path.join(host.dir, 'created.txt'))).toBe(false);
      expect(existsSync(path.join(host.dir, 'created2.txt'))).toBe(false);
      expect(existsSync(path.join(host.dir, 'moved.txt'))).toBe(false);
      expect(existsSync(path.join(host.dir, 'folder', 'new.txt'))).toBe(false);
    });

    it('/proc does not lead to the host root', async () => {
      for (const p of ['/proc/1/root/etc/passwd', '/proc/self/root/etc/passwd']) {
        const r = await call(client, 'file_read', { path: p });
        if (!r.isError) expect(r.structuredContent!.content).toContain('sandbox user');
      }
      neverHost(await call(client, 'file_read', { path: `/proc/1/root${hostFile}` }));
    });
  });
}

function structuredPaths(r: ToolResult): string[] {
  return ((r.structuredContent?.entries ?? []) as { path: string }[]).map((e) => e.path);
}
