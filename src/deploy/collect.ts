import path from 'node:path';
import { SandboxError } from '../errors.js';
import type { Sandbox } from '../providers/types.js';
import type { SourceFile } from './target.js';

const CHUNK = 4 * 1024 * 1024;
/** Folders of the system image (on the local provider: the host's, mounted read-only), never published. */
const SYSTEM = [
  '/usr',
  '/etc',
  '/proc',
  '/sys',
  '/dev',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/boot',
  '/run',
  '/var/run',
  '/.sandbox-mcp',
];

const posix = path.posix;
const inside = (root: string, p: string) => p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);

export interface Collected {
  root: string;
  files: SourceFile[];
  totalBytes: number;
  skipped: string[];
}

/**
 * Lists a sandbox folder for publishing, through the provider's files API only (never host paths):
 * what the sandbox itself can see is all that can be read. Symlinks are followed only to regular
 * files inside the folder, through no other symlink; every other symlink is skipped and reported.
 */
export async function collectFolder(
  fromSandbox: Sandbox,
  requested: string,
  limits: { maxBytes: number; maxFiles: number },
): Promise<Collected> {
  const root = posix.resolve(fromSandbox.workdir, requested);
  if (root === '/' || SYSTEM.some((s) => inside(s, root))) {
    throw new SandboxError('PERMISSION_DENIED', `${root} is a system folder, not something to publish`, {
      hint: 'publish a folder of your project, e.g. the build output "myapp/dist" under the workdir',
    });
  }
  // Without isolation the "sandbox" paths are host paths: only the workdir is the sandbox's own.
  if (fromSandbox.provider === 'local' && fromSandbox.workdir !== '/workspace' && !inside(fromSandbox.workdir, root)) {
    throw new SandboxError('PERMISSION_DENIED', `${root} is outside the workdir ${fromSandbox.workdir}`, {
      hint: 'publish a folder inside the workdir',
    });
  }
  await assertNoSymlinkOnPath(fromSandbox, '/', root);
  const st = await fromSandbox.files.stat(root).catch((error: unknown) => {
    throw new SandboxError('NOT_FOUND', `${root} does not exist in the sandbox`, {
      hint: 'build first (webdev_build), then pass the output folder it reports',
      cause: error,
    });
  });
  if (st.type !== 'directory')
    throw new SandboxError('INVALID_ARGUMENT', `${root} is not a folder`, {
      hint: 'pass the folder holding index.html',
    });

  const files: SourceFile[] = [];
  const skipped: string[] = [];
  let totalBytes = 0;
  const add = (rel: string, abs: string, size: number) => {
    if (files.length + 1 > limits.maxFiles)
      throw new SandboxError('LIMIT_EXCEEDED', `${root} holds more than ${limits.maxFiles} files`, {
        hint: 'publish only the build output, or raise SANDBOX_DEPLOY_MAX_FILES',
      });
    totalBytes += size;
    if (totalBytes > limits.maxBytes)
      throw new SandboxError('LIMIT_EXCEEDED', `${root} is larger than ${Math.round(limits.maxBytes / 1048576)} MiB`, {
        hint: 'publish only the build output, or raise SANDBOX_DEPLOY_MAX_MB',
      });
    files.push({ path: rel, size, read: () => readChunks(fromSandbox, abs, size) });
  };
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = (await fromSandbox.files.list(dir)).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const abs = posix.join(dir, e.name);
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.type === 'directory') await walk(abs, rel);
      else if (e.type === 'file') add(rel, abs, e.size);
      else if (e.type === 'symlink') {
        const target = await symlinkTarget(fromSandbox, root, abs);
        if (typeof target === 'string') skipped.push(`${rel} (symlink: ${target})`);
        else add(rel, target.path, target.size);
      } else skipped.push(`${rel} (not a regular file)`);
    }
  };
  await walk(root, '');
  if (!files.length)
    throw new SandboxError('INVALID_ARGUMENT', `${root} has no files to publish`, {
      hint: 'build the site first; the folder should hold index.html',
    });
  return { root, files, totalBytes, skipped };
}

/** Where a symlink leads, if to a regular file inside `root` reached through no other symlink; else why not. */
async function symlinkTarget(
  sandbox: Sandbox,
  root: string,
  link: string,
): Promise<{ path: string; size: number } | string> {
  const st = await sandbox.files.stat(link);
  if (!st.linkTarget) return 'unreadable link';
  const target = posix.resolve(posix.dirname(link), st.linkTarget);
  if (!inside(root, target) || target === root) return `points outside the published folder, to ${st.linkTarget}`;
  try {
    await assertNoSymlinkOnPath(sandbox, root, posix.dirname(target));
    const t = await sandbox.files.stat(target);
    if (t.type !== 'file') return `target ${st.linkTarget} is not a regular file`;
    return { path: target, size: t.size };
  } catch {
    return `target ${st.linkTarget} is missing or reached through another link`;
  }
}

/** Every folder from `from` (excluded) down to `to` must be a real folder, not a symlink. */
async function assertNoSymlinkOnPath(sandbox: Sandbox, from: string, to: string): Promise<void> {
  const parts = posix.relative(from, to).split('/').filter(Boolean);
  let cur = from;
  for (const part of parts) {
    cur = posix.join(cur, part);
    const st = await sandbox.files.stat(cur).catch(() => undefined);
    if (!st) return;
    if (st.type === 'symlink') {
      throw new SandboxError(
        'PERMISSION_DENIED',
        `${cur} is a symbolic link (to ${st.linkTarget ?? '?'}); deploys never follow links out of the published folder`,
        { hint: 'pass the real folder path' },
      );
    }
  }
}

/** Reads no more than the size listed, which the limits were checked against: a file growing meanwhile is cut there. */
async function* readChunks(sandbox: Sandbox, file: string, size: number): AsyncIterable<Buffer> {
  for (let offset = 0; offset < size;) {
    const { data } = await sandbox.files.read(file, { offset, length: Math.min(CHUNK, size - offset) });
    if (!data.length) return;
    yield data;
    offset += data.length;
  }
}
