import type { Config, MigrateArgs } from '../../config.js';
import type { Logger } from '../../logger.js';
import { progressFor } from './progress.js';
import { migrate } from './run.js';

/**
 * `sandbox-mcp migrate`: the JSON summary on stdout, progress and the error in words on stderr.
 * SIGINT/SIGTERM stop after the file in hand; what was copied is in the journal for the next run.
 */
export async function runMigrate(config: Config, log: Logger, args: MigrateArgs): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const progress = progressFor(process.stderr);
    const { exitCode, summary } = await migrate(config, log, args, progress, stop.signal);
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    const e = summary.error;
    if (e) process.stderr.write(`sandbox-mcp migrate: ${e.message}${e.hint ? `. ${e.hint}` : ''}\n`);
    else if (summary.mismatched.length || summary.failed.length)
      process.stderr.write(
        `sandbox-mcp migrate: ${summary.failed.length} entries failed and ${summary.mismatched.length} did not verify (listed in the summary); run the same command again to redo them\n`,
      );
    else
      process.stderr.write(
        `sandbox-mcp migrate: ${summary.dryRun ? 'dry run: ' : ''}${summary.files} files, ${summary.directories} folders, ${summary.symlinks} symlinks; ${summary.dryRun ? 'would copy' : 'copied'} ${summary.dryRun ? (summary.planned ?? []).filter((p) => p.action !== 'skip').length : summary.copied}, skipped ${summary.skipped}${summary.dryRun ? '' : `, ${summary.verified} files verified by sha256`}\n`,
      );
    return stop.signal.aborted ? 130 : exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
