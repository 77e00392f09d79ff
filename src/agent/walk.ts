import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Folders walks do not enter unless asked: dependencies, VCS data, caches. */
export const IGNORED_DIRS = new Set(['node_modules', '.git', '__pycache__', '.venv']);

/**
 * Kernel and device folders: endless devices, a /proc per process, files that block. A walk from
 * above lists them but never enters them; listing or searching one by its own path still works.
 */
export const SYSTEM_DIRS: ReadonlySet<string> = new Set(['/dev', '/proc', '/sys']);

/** Entries a walk may look at before it stops and says it was truncated. */
export const MAX_SCANNED = 200_000;

export interface WalkItem {
  abs: string;
  /** Relative to the walk's root, '/'-separated. */
  rel: string;
  dirent: Dirent;
  /** 1 for the root's own entries. */
  level: number;
  /** An ignored folder (or a system folder, see SYSTEM_DIRS) reported but not entered. */
  skipped: boolean;
}

export interface WalkOptions {
  depth: number;
  includeHidden?: boolean;
  includeIgnored?: boolean;
}

export interface WalkStats {
  hidden: number;
  scanned: number;
  /** MAX_SCANNED was reached. */
  exhausted: boolean;
  unreadable: number;
}

/**
 * Breadth-first, names sorted within each folder, never following symlinks (no cycles, and a link
 * out of the tree is reported, not walked). The consumer stops early by breaking out of the loop.
 */
export async function* walk(root: string, walkOptions: WalkOptions, stats: WalkStats): AsyncGenerator<WalkItem> {
  // System folders are recognised by their real path, so a symlink to / does not lead into /proc.
  const realRoot = await fs.realpath(root).catch(() => root);
  let level: { abs: string; rel: string }[] = [{ abs: root, rel: '' }];
  for (let depth = 1; depth <= walkOptions.depth && level.length; depth++) {
    const next: { abs: string; rel: string }[] = [];
    for (const dir of level) {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(dir.abs, { withFileTypes: true });
      } catch {
        stats.unreadable++;
        continue;
      }
      entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      for (const dirent of entries) {
        if (++stats.scanned > MAX_SCANNED) {
          stats.exhausted = true;
          return;
        }
        if (!walkOptions.includeHidden && dirent.name.startsWith('.')) {
          stats.hidden++;
          continue;
        }
        const rel = dir.rel ? `${dir.rel}/${dirent.name}` : dirent.name;
        const abs = path.join(dir.abs, dirent.name);
        const system = depth === 1 && SYSTEM_DIRS.has(path.join(realRoot, dirent.name));
        const skipped =
          dirent.isDirectory() && (system || (!walkOptions.includeIgnored && IGNORED_DIRS.has(dirent.name)));
        yield { abs, rel, dirent, level: depth, skipped };
        if (dirent.isDirectory() && !skipped) next.push({ abs, rel });
      }
    }
    level = next;
  }
}

export function typeOf(dirent: {
  isSymbolicLink(): boolean;
  isDirectory(): boolean;
  isFile(): boolean;
}): 'symlink' | 'directory' | 'file' | 'other' {
  return dirent.isSymbolicLink() ? 'symlink' : dirent.isDirectory() ? 'directory' : dirent.isFile() ? 'file' : 'other';
}
