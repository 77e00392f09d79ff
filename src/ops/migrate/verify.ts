import path from 'node:path';
import { MAX_WALK_ENTRIES, type Sandbox, type WalkEntry } from '../../providers/types.js';
import type { Journal } from './journal.js';
import { abs } from './plan.js';
import type { Progress } from './progress.js';

export interface Mismatch {
  path: string;
  reason: string;
}

const HASH_BATCH = 256;

/**
 * After the copy: sha256 of every source file and of its copy, each computed inside its own sandbox
 * through the provider, plus the target's walk checked against the source's for types, modes and link
 * targets. A file whose digests differ is dropped from the journal, so the next run copies it again;
 * one whose source digest differs from the bytes read during the copy changed meanwhile.
 */
export async function verifyCopy(value: {
  source: Sandbox;
  target: Sandbox;
  sourceEntries: WalkEntry[];
  journal: Journal;
  progress: Progress;
  summary: { verified: number; failed: { path: string }[] };
}): Promise<Mismatch[]> {
  const failed = new Set(value.summary.failed.map((f) => f.path));
  const files = value.sourceEntries.filter((e) => e.type === 'file' && !failed.has(e.path));
  const mismatched: Mismatch[] = [];
  value.progress.phase(
    'verify',
    files.length,
    files.reduce((n, e) => n + e.size, 0),
  );
  for (let i = 0; i < files.length; i += HASH_BATCH) {
    const batch = files.slice(i, i + HASH_BATCH);
    const from = await digests(value.source, batch);
    const to = await digests(value.target, batch);
    for (const [j, entry] of batch.entries()) {
      const recorded = value.journal.done.get(entry.path)?.sha256;
      const reason =
        from[j] instanceof Error
          ? `the source cannot be hashed: ${from[j].message}`
          : to[j] instanceof Error
            ? `the copy cannot be hashed: ${to[j].message}`
            : from[j] !== to[j]
              ? 'the copy differs from the source (sha256)'
              : recorded !== from[j]
                ? 'the source changed during the copy'
                : undefined;
      if (reason) {
        mismatched.push({ path: entry.path, reason });
        await value.journal.drop(entry.path);
      } else value.summary.verified++;
      value.progress.step(entry.path, entry.size);
    }
  }
  return [...mismatched, ...(await compareTrees(value.target, value.sourceEntries, failed))];
}

/** Digests of a batch; when the batch fails, file by file, so one unreadable file names itself. */
async function digests(sandbox: Sandbox, batch: WalkEntry[]): Promise<(string | Error)[]> {
  const paths = batch.map((e) => abs(sandbox, e.path));
  try {
    return await sandbox.files.sha256(paths);
  } catch {
    return Promise.all(
      paths.map((filePath) =>
        sandbox.files.sha256([filePath]).then(
          (d) => d[0]!,
          (e: Error) => e,
        ),
      ),
    );
  }
}

async function compareTrees(target: Sandbox, entries: WalkEntry[], failed: Set<string>): Promise<Mismatch[]> {
  const copied = new Map(
    (await target.files.walk(target.workdir, { maxEntries: MAX_WALK_ENTRIES })).map((e) => [e.path, e]),
  );
  const out: Mismatch[] = [];
  for (const e of entries) {
    if (failed.has(e.path)) continue;
    const t = copied.get(e.path);
    if (!t) out.push({ path: e.path, reason: 'missing on the target' });
    else if (t.type !== e.type) out.push({ path: e.path, reason: `a ${t.type} on the target` });
    else if (e.type === 'symlink' && t.linkTarget !== e.linkTarget)
      out.push({ path: e.path, reason: `links to ${JSON.stringify(t.linkTarget)} on the target` });
    else if (e.type !== 'symlink' && t.mode !== e.mode)
      out.push({ path: e.path, reason: `mode ${t.mode.toString(8)} on the target, ${e.mode.toString(8)} here` });
  }
  return out;
}

/** Part files of big files an interrupted run left, whose file is now in place (or gone from the source). */
export async function removeStaleParts(
  target: Sandbox,
  sourceEntries: WalkEntry[],
  before: WalkEntry[],
): Promise<void> {
  const inSource = new Set(sourceEntries.map((e) => e.path));
  for (const e of before) {
    if (
      e.type === 'file' &&
      /^\.[0-9a-f]{16}\.migrate-part$/.test(path.posix.basename(e.path)) &&
      !inSource.has(e.path)
    )
      await target.files.remove(abs(target, e.path)).catch(() => undefined);
  }
}
