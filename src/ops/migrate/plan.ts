import path from 'node:path';
import type { Sandbox, WalkEntry } from '../../providers/types.js';
import type { Journal } from './journal.js';

/**
 * What a run does with each source entry, decided before anything is written: `create` (absent on the
 * target), `skip` (the target already holds it: copied by an earlier run whose source still matches,
 * or identical), `replace` (the target holds something else there: only with --force, else a conflict).
 */
export interface PlannedEntry {
  entry: WalkEntry;
  action: 'create' | 'skip' | 'replace';
  /** For skip: why (resumed | identical); for replace: what is in the way. */
  reason?: string;
  /** For files found identical by digest: the source's sha256 (recorded in the journal). */
  sha256?: string;
}

export interface Plan {
  entries: PlannedEntry[];
  /** Target entries in the way, with what differs; empty unless the target held other files. */
  conflicts: { path: string; reason: string }[];
  /** Target entries the source does not have: left alone. */
  keptOnTarget: number;
}

export interface PlanInput {
  source: WalkEntry[];
  /** The target workspace's entries; [] when it does not exist yet. */
  target: WalkEntry[];
  journal: Journal;
  sourceBox: Sandbox;
  /** Undefined when the target workspace does not exist (dry run: nothing is created to look). */
  targetBox?: Sandbox;
  force: boolean;
}

const HASH_BATCH = 512;

export async function planCopy(input: PlanInput): Promise<Plan> {
  const onTarget = new Map(input.target.map((e) => [e.path, e]));
  const entries: PlannedEntry[] = [];
  const conflicts: Plan['conflicts'] = [];
  const sameSize: PlannedEntry[] = [];
  for (const entry of input.source) {
    const there = onTarget.get(entry.path);
    const verdict = compare(entry, there, input.journal);
    const planned: PlannedEntry = { entry, action: verdict.action, reason: verdict.reason };
    if (verdict.action === 'replace' && verdict.reason !== 'same size')
      conflicts.push({ path: entry.path, reason: verdict.reason! });
    if (verdict.reason === 'same size') sameSize.push(planned);
    entries.push(planned);
  }
  // Same path, same size, not ours: the digests decide whether it is the same file.
  for (let i = 0; i < sameSize.length; i += HASH_BATCH) {
    const batch = sameSize.slice(i, i + HASH_BATCH);
    const from = await input.sourceBox.files.sha256(batch.map((p) => abs(input.sourceBox, p.entry.path)));
    const to = await input.targetBox!.files.sha256(batch.map((p) => abs(input.targetBox!, p.entry.path)));
    batch.forEach((plannedEntry, batchIndex) => {
      if (from[batchIndex] === to[batchIndex])
        Object.assign(plannedEntry, { action: 'skip', reason: 'identical', sha256: from[batchIndex] });
      else {
        Object.assign(plannedEntry, { action: 'replace', reason: 'a different file of the same size' });
        conflicts.push({ path: plannedEntry.entry.path, reason: plannedEntry.reason! });
      }
    });
  }
  const sourcePaths = new Set(input.source.map((e) => e.path));
  const keptOnTarget = input.target.filter((e) => !sourcePaths.has(e.path)).length;
  return { entries, conflicts: conflicts.sort((a, b) => (a.path < b.path ? -1 : 1)), keptOnTarget };
}

/** `same size` is provisional: planCopy settles it by digest. */
function compare(
  entry: WalkEntry,
  there: WalkEntry | undefined,
  journal: Journal,
): { action: PlannedEntry['action']; reason?: string } {
  if (!there) return { action: 'create' };
  if (there.type !== entry.type)
    return { action: 'replace', reason: `a ${there.type} on the target, a ${entry.type} here` };
  if (entry.type === 'directory') return { action: 'skip', reason: 'exists' };
  if (entry.type === 'symlink')
    return there.linkTarget === entry.linkTarget
      ? { action: 'skip', reason: 'identical' }
      : { action: 'replace', reason: `a symlink to ${JSON.stringify(there.linkTarget)} on the target` };
  if (there.size !== entry.size)
    return { action: 'replace', reason: `${there.size} bytes on the target, ${entry.size} here` };
  if (journal.matches(entry)) return { action: 'skip', reason: 'resumed' };
  return { action: 'replace', reason: 'same size' };
}

export function abs(sandbox: Sandbox, rel: string): string {
  return path.posix.join(sandbox.workdir, rel);
}
