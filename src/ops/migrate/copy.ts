import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Sandbox, WalkEntry } from '../../providers/types.js';
import { abs, type PlannedEntry } from './plan.js';

/**
 * Bytes moved per read and write. Files up to this size go in one atomic write; bigger ones go in
 * chunks to a part file beside the target, renamed into place once whole: only one chunk is ever
 * held in memory, and the target never shows half a file under its real name.
 */
export const CHUNK_BYTES = 8 << 20;

/** Copies one planned entry (folders, links, files); returns the sha256 of the bytes read for a file. */
export async function copyEntry(src: Sandbox, dst: Sandbox, planned: PlannedEntry): Promise<string | undefined> {
  const { entry } = planned;
  const to = abs(dst, entry.path);
  if (planned.action === 'replace' && (entry.type !== 'file' || (await isNonFile(dst, entry.path))))
    await dst.files.remove(to, { recursive: true });
  if (entry.type === 'directory') {
    await dst.files.mkdir(to);
    return undefined;
  }
  if (entry.type === 'symlink') {
    // The link text as it is: a link out of the workspace stays a link, followed on neither side.
    await dst.files.symlink(entry.linkTarget!, to);
    return undefined;
  }
  return copyFile(src, dst, entry);
}

async function isNonFile(dst: Sandbox, rel: string): Promise<boolean> {
  const st = await dst.files.stat(abs(dst, rel)).catch(() => undefined);
  return !!st && st.type !== 'file';
}

async function copyFile(src: Sandbox, dst: Sandbox, entry: WalkEntry): Promise<string> {
  const from = abs(src, entry.path);
  const to = abs(dst, entry.path);
  const hash = createHash('sha256');
  const first = (await src.files.read(from, { offset: 0, length: CHUNK_BYTES })).data;
  hash.update(first);
  if (first.length < CHUNK_BYTES) {
    await dst.files.write(to, first, { mode: entry.mode });
    return hash.digest('hex');
  }
  const part = partPath(to, entry.path);
  // write() replaces a part file an interrupted run left behind.
  await dst.files.write(part, first, { mode: 0o600 });
  for (let offset = first.length; ;) {
    const { data } = await src.files.read(from, { offset, length: CHUNK_BYTES });
    if (data.length === 0) break;
    hash.update(data);
    await dst.files.append(part, data);
    offset += data.length;
  }
  await dst.files.chmod(part, entry.mode);
  await dst.files.rename(part, to, { overwrite: true });
  return hash.digest('hex');
}

/** A short name beside the target (any target name fits under the 255-byte limit with it). */
export function partPath(target: string, rel: string): string {
  const tag = createHash('sha256').update(rel).digest('hex').slice(0, 16);
  return path.posix.join(path.posix.dirname(target), `.${tag}.migrate-part`);
}

/** Folder modes go last, deepest first: a read-only folder must not block what goes inside it. */
export async function applyFolderModes(dst: Sandbox, folders: WalkEntry[]): Promise<void> {
  for (const dir of [...folders].sort((a, b) => b.path.length - a.path.length))
    await dst.files.chmod(abs(dst, dir.path), dir.mode);
}
