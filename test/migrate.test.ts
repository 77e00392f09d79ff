import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerEnv, dockerSkip, expectNoContainersLeft } from './docker-env.js';
import { FakeDaytona } from './fakes/daytona.js';
import { FakeE2B } from './fakes/e2b.js';
import { CLI, sh, stdioClient, tempDir, waitFor } from './helpers.js';

/**
 * `sandbox-mcp migrate` through the built CLI: a workspace with hostile names, modes, links out of
 * it, empty folders and a file bigger than one chunk goes local -> docker -> local (and through the
 * E2B and Daytona fakes) and comes back identical, the source untouched; dry run, conflicts, resume
 * after a SIGKILL, and bad input.
 */
const states: ReturnType<typeof tempDir>[] = [];
afterAll(() => states.forEach((s) => s.cleanup()));

function state(): string {
  const s = tempDir('sbx-migrate-');
  states.push(s);
  return s.dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  summary: Record<string, unknown> & { ok?: boolean; error?: { code: string; message: string; hint?: string } };
}

function migrate(env: Record<string, string>, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'migrate', ...args], {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME!, SANDBOX_DISK_MB: '0', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      let summary = {};
      try {
        summary = JSON.parse(stdout) as Run['summary'];
      } catch {
        /* usage errors print nothing on stdout */
      }
      resolve({ code, stdout, stderr, summary });
    });
  });
}

const wsDir = (stateDir: string, name: string) => path.join(stateDir, 'workspaces', name);
const ODD = ['-rf', '--help', 'new\nline', 'tab\tname', 'ünïcødé 🚀.txt', 'x'.repeat(240), ' space '];

/** A workspace folder as a server would keep it (SANDBOX_DISK_MB=0: a plain folder). */
async function makeWorkspace(dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'src/deep/er'), { recursive: true });
  await fs.mkdir(path.join(dir, 'empty/inner'), { recursive: true });
  await fs.mkdir(path.join(dir, '.git/objects'), { recursive: true });
  for (const name of ODD) await fs.writeFile(path.join(dir, 'src', name), `content of ${name}`);
  await fs.writeFile(path.join(dir, '.git/objects/ab'), Buffer.from([0, 1, 2, 255]));
  await fs.writeFile(path.join(dir, 'run.sh'), '#!/bin/sh\necho run\n', { mode: 0o750 });
  await fs.writeFile(path.join(dir, 'secret'), 'mine', { mode: 0o600 });
  // Bigger than one 8 MiB chunk: goes through a part file and appends.
  await fs.writeFile(path.join(dir, 'src/deep/er/big.bin'), Buffer.alloc(9 * (1 << 20) + 123, 7));
  await fs.symlink('/etc/shadow', path.join(dir, 'outside'));
  await fs.symlink('../../run.sh', path.join(dir, 'src/deep/rel'));
  await fs.symlink('nowhere', path.join(dir, 'dangling'));
  await fs.chmod(path.join(dir, 'empty'), 0o711);
}

/** Every entry: type, mode, link target, sha256 and mtime, as the host sees it. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of (await fs.readdir(dir, { recursive: true })) as string[]) {
    const abs = path.join(dir, rel);
    const st = await fs.lstat(abs);
    const what = st.isSymbolicLink()
      ? `link ${await fs.readlink(abs)}`
      : st.isDirectory()
        ? `dir ${(st.mode & 0o7777).toString(8)}`
        : `file ${(st.mode & 0o7777).toString(8)} ${createHash('sha256')
            .update(await fs.readFile(abs))
            .digest('hex')}`;
    out[rel] = `${what} mtime=${st.isSymbolicLink() ? '' : st.mtimeMs}`;
  }
  return out;
}

const withoutTimes = (s: Record<string, string>) =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.replace(/ mtime=.*$/, '')]));

function dropVolume(stateDir: string, name: string): void {
  const label = createHash('sha256').update(stateDir).digest('hex').slice(0, 16);
  try {
    execFileSync('docker', ['volume', 'rm', '-f', `sandbox-mcp-ws-${label}-${name}`], { stdio: 'ignore' });
  } catch {
    /* engine gone */
  }
}

describe.skipIf(!!dockerSkip)('migrate between local and docker', () => {
  if (dockerSkip) console.warn(`[migrate] docker cases skipped: ${dockerSkip}`);

  it('local -> docker -> local gives back identical files, modes and links; the source is untouched', async () => {
    const dir = state();
    const env = dockerEnv(dir);
    await makeWorkspace(wsDir(dir, 'proj'));
    const before = await snapshot(wsDir(dir, 'proj'));
    try {
      const there = await migrate(env, ['--workspace', 'proj', '--from', 'local', '--to', 'docker']);
      expect(there.code, there.stderr).toBe(0);
      expect(there.summary).toMatchObject({ ok: true, symlinks: 3, failed: [], mismatched: [] });
      expect(there.summary.verified).toBe(there.summary.files);
      // Source untouched: same bytes, modes, links and mtimes.
      expect(await snapshot(wsDir(dir, 'proj'))).toEqual(before);
      // The docker workspace is what a server on docker sees.
      const client = await stdioClient({ ...env, SANDBOX_WORKSPACE: 'proj' });
      expect((await sh(client.client, 'readlink outside; stat -c %a run.sh; cat src/-rf')).stdout).toBe(
        '/etc/shadow\n750\ncontent of -rf',
      );
      await client.client.close();

      await fs.rename(wsDir(dir, 'proj'), path.join(dir, 'original'));
      const back = await migrate(env, ['--workspace', 'proj', '--from', 'docker', '--to', 'local']);
      expect(back.code, back.stdout).toBe(0);
      expect(withoutTimes(await snapshot(wsDir(dir, 'proj')))).toEqual(withoutTimes(before));
      // The link out of the workspace was copied as a link: nothing of the host's /etc came along.
      expect((await fs.lstat(path.join(wsDir(dir, 'proj'), 'outside'))).isSymbolicLink()).toBe(true);
    } finally {
      dropVolume(dir, 'proj');
    }
    await expectNoContainersLeft(dir);
  }, 240_000);

  it('--dry-run lists what would be copied and creates nothing; a differing target is refused unless --force', async () => {
    const dir = state();
    const env = dockerEnv(dir);
    await fs.mkdir(wsDir(dir, 'dry'), { recursive: true });
    await fs.writeFile(path.join(wsDir(dir, 'dry'), 'a.txt'), 'local a');
    await fs.writeFile(path.join(wsDir(dir, 'dry'), 'b.txt'), 'local b');
    try {
      const dry = await migrate(env, ['--workspace', 'dry', '--from', 'local', '--to', 'docker', '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.summary.planned).toEqual([
        { path: 'a.txt', type: 'file', action: 'create' },
        { path: 'b.txt', type: 'file', action: 'create' },
      ]);
      expect(execFileSync('docker', ['volume', 'ls', '-q'], { encoding: 'utf8' })).not.toMatch(/-dry$/m);

      // The docker workspace gets a different a.txt through a server, as a user would have it.
      const client = await stdioClient({ ...env, SANDBOX_WORKSPACE: 'dry' });
      await sh(client.client, 'printf "docker a" > a.txt && printf "only here" > c.txt');
      await client.client.close();
      const refused = await migrate(env, ['--workspace', 'dry', '--from', 'local', '--to', 'docker']);
      expect(refused.code).toBe(1);
      expect(refused.summary.error).toMatchObject({ code: 'ALREADY_EXISTS', hint: expect.stringContaining('--force') });
      expect(refused.stderr).toContain('"a.txt"');
      expect(refused.summary.copied).toBe(0);

      const forced = await migrate(env, ['--workspace', 'dry', '--from', 'local', '--to', 'docker', '--force']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.summary).toMatchObject({ ok: true, replaced: 1, keptOnTarget: 1 });
      const check = await stdioClient({ ...env, SANDBOX_WORKSPACE: 'dry' });
      expect((await sh(check.client, 'cat a.txt c.txt')).stdout).toBe('local aonly here');
      await check.client.close();
    } finally {
      dropVolume(dir, 'dry');
    }
  }, 240_000);

  it('a run killed mid-copy resumes: files already copied are skipped, the rest copied and verified', async () => {
    const dir = state();
    const env = dockerEnv(dir);
    const ws = wsDir(dir, 'resume');
    await fs.mkdir(ws, { recursive: true });
    for (let i = 0; i < 150; i++) await fs.writeFile(path.join(ws, `f${String(i).padStart(3, '0')}`), `file ${i}\n`);
    const before = await snapshot(ws);
    const journal = path.join(dir, 'migrations', 'resume.local-to-docker.jsonl');
    try {
      const child = spawn(
        process.execPath,
        [CLI, 'migrate', '--workspace', 'resume', '--from', 'local', '--to', 'docker'],
        {
          env: { PATH: process.env.PATH!, HOME: process.env.HOME!, SANDBOX_DISK_MB: '0', ...env },
          stdio: 'ignore',
        },
      );
      const doneLines = () =>
        existsSync(journal)
          ? readFileSync(journal, 'utf8')
              .split('\n')
              .filter((l) => l.includes('"done"')).length
          : 0;
      await waitFor(() => doneLines() >= 10, 120_000);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const copiedBefore = doneLines();
      expect(copiedBefore).toBeLessThan(150);

      const rerun = await migrate(env, ['--workspace', 'resume', '--from', 'local', '--to', 'docker']);
      expect(rerun.code, rerun.stdout).toBe(0);
      expect(rerun.summary).toMatchObject({ ok: true, files: 150, verified: 150, mismatched: [] });
      expect(rerun.summary.skipped).toBeGreaterThanOrEqual(copiedBefore);
      expect(rerun.summary.copied).toBeLessThanOrEqual(150 - copiedBefore);
      expect(await snapshot(ws)).toEqual(before);

      // A source file changed since: recopied, the others skipped.
      await fs.writeFile(path.join(ws, 'f007'), 'changed, longer than before\n');
      const again = await migrate(env, ['--workspace', 'resume', '--from', 'local', '--to', 'docker', '--force']);
      expect(again.summary).toMatchObject({ ok: true, copied: 1, skipped: 149, verified: 150 });
    } finally {
      dropVolume(dir, 'resume');
    }
    await expectNoContainersLeft(dir);
  }, 300_000);
});

describe('migrate through the E2B and Daytona fakes', () => {
  let e2b: FakeE2B;
  let daytona: FakeDaytona;
  beforeAll(async () => {
    e2b = await new FakeE2B().start();
    daytona = await new FakeDaytona().start();
  });
  afterAll(async () => {
    await e2b?.stop();
    await daytona?.stop();
  });
  const cloudEnv = () => ({
    E2B_API_KEY: e2b.apiKey,
    E2B_API_URL: e2b.url,
    E2B_SANDBOX_URL: e2b.url,
    DAYTONA_API_KEY: daytona.apiKey,
    DAYTONA_SERVER_URL: daytona.url,
  });

  it('local -> e2b -> local comes back identical, local -> daytona verifies; a server reattaches the migrated workspace', async () => {
    const dir = state();
    const env = { ...cloudEnv(), SANDBOX_STATE_DIR: dir, SANDBOX_WARM_POOL: '0' };
    await makeWorkspace(wsDir(dir, 'cloud'));
    const before = await snapshot(wsDir(dir, 'cloud'));
    // Daytona is a target here, not a source: its SDK cannot download a file whose name holds a
    // newline or non-ASCII characters (a multipart header error), so such files would fail to copy out.
    const hops: [string, string][] = [
      ['local', 'e2b'],
      ['local', 'daytona'],
    ];
    for (const [from, to] of hops) {
      const r = await migrate(env, ['--workspace', 'cloud', '--from', from, '--to', to]);
      expect(r.code, `${from} -> ${to}: ${r.stdout}`).toBe(0);
      expect(r.summary).toMatchObject({ ok: true, mismatched: [], failed: [] });
    }
    expect(await snapshot(wsDir(dir, 'cloud'))).toEqual(before);
    const server = await stdioClient({ ...env, SANDBOX_PROVIDER: 'e2b', SANDBOX_WORKSPACE: 'cloud' });
    expect((await sh(server.client, 'cat src/-rf; readlink outside')).stdout).toBe('content of -rf/etc/shadow\n');
    await server.client.close();
    await fs.rename(wsDir(dir, 'cloud'), path.join(dir, 'original'));
    const back = await migrate(env, ['--workspace', 'cloud', '--from', 'e2b', '--to', 'local']);
    expect(back.code, back.stdout).toBe(0);
    const after = withoutTimes(await snapshot(wsDir(dir, 'cloud')));
    // A cloud sandbox's home holds the template's own files too; every source entry came back as it was.
    for (const [rel, what] of Object.entries(withoutTimes(before))) expect(after[rel], rel).toBe(what);
  }, 240_000);

  it('bad input: unknown provider, same provider, missing workspace, missing credentials', async () => {
    const dir = state();
    const unknown = await migrate({ SANDBOX_STATE_DIR: dir }, ['--workspace', 'w', '--from', 'local', '--to', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown provider "nope" for --to; pick one of local, docker, e2b, daytona');
    const same = await migrate({ SANDBOX_STATE_DIR: dir }, ['--workspace', 'w', '--from', 'e2b', '--to', 'e2b']);
    expect(same.code).toBe(2);
    const noName = await migrate({ SANDBOX_STATE_DIR: dir, SANDBOX_WORKSPACE: 'w' }, [
      '--from',
      'local',
      '--to',
      'e2b',
    ]);
    expect(noName.stderr).toContain('migrate needs --workspace NAME');

    const missing = await migrate({ ...cloudEnv(), SANDBOX_STATE_DIR: dir }, [
      '--workspace',
      'ghost',
      '--from',
      'e2b',
      '--to',
      'local',
    ]);
    expect(missing.code).toBe(1);
    expect(missing.summary.error).toMatchObject({
      code: 'NOT_FOUND',
      hint: expect.stringContaining('SANDBOX_WORKSPACE=ghost'),
    });
    expect(existsSync(wsDir(dir, 'ghost'))).toBe(false);

    await fs.mkdir(wsDir(dir, 'w'), { recursive: true });
    const noKey = await migrate({ SANDBOX_STATE_DIR: dir }, ['--workspace', 'w', '--from', 'local', '--to', 'e2b']);
    expect(noKey.code).toBe(1);
    expect(noKey.summary.error).toMatchObject({ code: 'AUTH', hint: expect.stringContaining('E2B_API_KEY') });
    expect(noKey.summary.copied).toBe(0);
  }, 120_000);
});
