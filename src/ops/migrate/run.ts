import type { Config, MigrateArgs } from '../../config.js';
import { SandboxError, isSandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { MAX_WALK_ENTRIES, type Sandbox, type WalkEntry } from '../../providers/types.js';
import { applyFolderModes, copyEntry } from './copy.js';
import { Endpoints } from './endpoints.js';
import { Journal } from './journal.js';
import { planCopy, type Plan } from './plan.js';
import type { Progress } from './progress.js';
import { verifyCopy, removeStaleParts, type Mismatch } from './verify.js';

export interface MigrateSummary {
  workspace: string;
  from: string;
  to: string;
  dryRun: boolean;
  ok: boolean;
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
  copied: number;
  skipped: number;
  replaced: number;
  conflicts: { path: string; reason: string }[];
  keptOnTarget: number;
  failed: { path: string; error: string }[];
  verified: number;
  mismatched: Mismatch[];
  journal: string;
  durationMs: number;
  /** Dry run: every entry and what a run would do with it. */
  planned?: { path: string; type: string; action: string; reason?: string }[];
  error?: { code: string; message: string; hint?: string };
}

/** The first conflicts and failures named in the summary; the counts say how many in all. */
const LISTED = 50;

export async function migrate(
  config: Config,
  log: Logger,
  args: MigrateArgs,
  progress: Progress,
  signal: AbortSignal,
): Promise<{ exitCode: number; summary: MigrateSummary }> {
  const started = Date.now();
  const workspace = config.workspace!;
  const journalFile = Journal.fileFor(config.stateDir, workspace, args.from, args.to);
  const summary = emptySummary(workspace, args, journalFile);
  const ends = new Endpoints(config, log);
  try {
    const source = (await ends.open(args.from, workspace, { role: 'source', create: false })).sandbox!;
    const target = (await ends.open(args.to, workspace, { role: 'target', create: !args.dryRun })).sandbox;
    progress.note(`listing ${workspace} on ${args.from}${target ? ` and ${args.to}` : ''}`);
    const sourceEntries = await source.files.walk(source.workdir, { maxEntries: MAX_WALK_ENTRIES });
    const targetEntries = target ? await target.files.walk(target.workdir, { maxEntries: MAX_WALK_ENTRIES }) : [];
    count(summary, sourceEntries);
    const journal = await Journal.load(journalFile, !args.dryRun);
    try {
      const plan = await planCopy({
        source: sourceEntries,
        target: targetEntries,
        journal,
        sourceBox: source,
        targetBox: target,
        force: args.force,
      });
      summary.conflicts = plan.conflicts.slice(0, LISTED);
      summary.keptOnTarget = plan.keptOnTarget;
      if (args.dryRun) return finish(summary, dryRun(summary, plan), started);
      if (plan.conflicts.length && !args.force) return finish(summary, refuse(summary, plan, config), started);
      await runCopy({ source, target: target!, plan, journal, progress, signal, summary });
      summary.mismatched = await verifyCopy({ source, target: target!, sourceEntries, journal, progress, summary });
      await removeStaleParts(target!, sourceEntries, targetEntries);
      summary.ok = summary.failed.length === 0 && summary.mismatched.length === 0;
      if (summary.ok) await journal.recordVerified();
      return finish(summary, summary.ok ? 0 : 1, started);
    } finally {
      await journal.close();
    }
  } catch (e) {
    const err = isSandboxError(e) ? e : new SandboxError('INTERNAL', (e as Error).message);
    summary.error = { code: err.code, message: err.message, hint: err.hint };
    return finish(summary, 1, started);
  } finally {
    progress.end();
    await ends.close();
  }
}

interface CopyRun {
  source: Sandbox;
  target: Sandbox;
  plan: Plan;
  journal: Journal;
  progress: Progress;
  signal: AbortSignal;
  summary: MigrateSummary;
}

/** Folders first, then links and files; one failed entry is reported and the rest go on. */
async function runCopy(copyRun: CopyRun): Promise<void> {
  const todo = copyRun.plan.entries.filter((p) => p.action !== 'skip');
  copyRun.summary.skipped = copyRun.plan.entries.length - todo.length;
  // Identical files found by digest are recorded, so a later run skips them without hashing again.
  for (const p of copyRun.plan.entries)
    if (p.action === 'skip' && p.sha256) await copyRun.journal.recordDone({ ...pick(p.entry), sha256: p.sha256 });
  const bytes = todo.reduce((n, p) => n + (p.entry.type === 'file' ? p.entry.size : 0), 0);
  copyRun.progress.phase('copy', todo.length, bytes);
  for (const planned of todo) {
    if (copyRun.signal.aborted)
      throw new SandboxError('UNAVAILABLE', 'interrupted', {
        hint: 'run the same command again: files already copied are skipped, the rest is copied',
      });
    const { entry } = planned;
    try {
      const sha256 = await copyEntry(copyRun.source, copyRun.target, planned);
      if (sha256) await copyRun.journal.recordDone({ ...pick(entry), sha256 });
      copyRun.summary.copied++;
      if (planned.action === 'replace') copyRun.summary.replaced++;
    } catch (e) {
      if (isSandboxError(e) && e.code === 'SANDBOX_GONE') throw e;
      copyRun.summary.failed.push({ path: entry.path, error: isSandboxError(e) ? e.describe() : (e as Error).message });
      copyRun.progress.note(`failed: ${JSON.stringify(entry.path)}: ${(e as Error).message}`);
    }
    copyRun.progress.step(entry.path, entry.type === 'file' ? entry.size : undefined);
  }
  await applyFolderModes(
    copyRun.target,
    copyRun.plan.entries.map((p) => p.entry).filter((e) => e.type === 'directory'),
  );
}

function pick(walkEntry: WalkEntry) {
  return { path: walkEntry.path, size: walkEntry.size, mtime: walkEntry.mtime, mode: walkEntry.mode };
}

function count(summary: MigrateSummary, entries: WalkEntry[]): void {
  for (const e of entries) {
    if (e.type === 'file') {
      summary.files++;
      summary.bytes += e.size;
    } else if (e.type === 'directory') summary.directories++;
    else if (e.type === 'symlink') summary.symlinks++;
  }
}

function dryRun(summary: MigrateSummary, plan: Plan): number {
  summary.planned = plan.entries.map((plannedEntry) => ({
    path: plannedEntry.entry.path,
    type: plannedEntry.entry.type,
    action: plannedEntry.action,
    ...(plannedEntry.reason ? { reason: plannedEntry.reason } : {}),
  }));
  summary.copied = 0;
  summary.skipped = plan.entries.filter((p) => p.action === 'skip').length;
  summary.ok = plan.conflicts.length === 0;
  return 0;
}

function refuse(summary: MigrateSummary, plan: Plan, config: Config): number {
  const first = plan.conflicts.slice(0, 3).map((c) => `${JSON.stringify(c.path)} (${c.reason})`);
  summary.error = {
    code: 'ALREADY_EXISTS',
    message: `the target workspace "${config.workspace}" already holds ${plan.conflicts.length} entr${plan.conflicts.length === 1 ? 'y' : 'ies'} that differ from the source: ${first.join(', ')}${plan.conflicts.length > 3 ? ', ...' : ''}`,
    hint: 'nothing was copied; add --force to replace them (other target files are kept), or see them all with --dry-run',
  };
  return 1;
}

function finish(summary: MigrateSummary, exitCode: number, started: number) {
  summary.durationMs = Date.now() - started;
  return { exitCode, summary };
}

function emptySummary(workspace: string, args: MigrateArgs, journal: string): MigrateSummary {
  return {
    workspace,
    from: args.from,
    to: args.to,
    dryRun: args.dryRun,
    ok: false,
    files: 0,
    directories: 0,
    symlinks: 0,
    bytes: 0,
    copied: 0,
    skipped: 0,
    replaced: 0,
    conflicts: [],
    keptOnTarget: 0,
    failed: [],
    verified: 0,
    mismatched: [],
    journal,
    durationMs: 0,
  };
}
