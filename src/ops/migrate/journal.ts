import fs from 'node:fs/promises';
import path from 'node:path';

/** A source file as it was when copied: a re-run skips it while the source still matches. */
export interface CopiedFile {
  path: string;
  size: number;
  mtime: string;
  mode: number;
  sha256: string;
}

type Record_ =
  ({ state: 'done' } & CopiedFile) | { state: 'dropped'; path: string } | { state: 'verified'; at: string };

/**
 * The resume journal of one migration (workspace + from + to), in the state dir: one JSON line per
 * file once it is fully written and renamed into place on the target, flushed to disk before the next
 * file starts. A run killed mid-file leaves no line for that file, so the next run redoes it; a torn
 * last line (killed mid-write) is ignored.
 */
export class Journal {
  private handle?: fs.FileHandle;
  readonly done = new Map<string, CopiedFile>();

  private constructor(readonly file: string) {}

  static fileFor(stateDir: string, workspace: string, from: string, to: string): string {
    return path.join(stateDir, 'migrations', `${workspace}.${from}-to-${to}.jsonl`);
  }

  /** Reads what earlier runs recorded; `write` opens it for appending too. */
  static async load(file: string, write: boolean): Promise<Journal> {
    const journal = new Journal(file);
    const text = await fs.readFile(file, 'utf8').catch((errnoException: NodeJS.ErrnoException) => {
      if (errnoException.code === 'ENOENT') return '';
      throw errnoException;
    });
    for (const line of text.split('\n')) {
      const rec = parse(line);
      if (rec?.state === 'done') journal.done.set(rec.path, rec);
      else if (rec?.state === 'dropped') journal.done.delete(rec.path);
    }
    if (write) {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      journal.handle = await fs.open(file, 'a', 0o600);
    }
    return journal;
  }

  /** Whether `file` was copied from a source entry that still looks the same. */
  matches(file: CopiedFile | Omit<CopiedFile, 'sha256'>): boolean {
    const seen = this.done.get(file.path);
    return !!seen && seen.size === file.size && seen.mtime === file.mtime && seen.mode === file.mode;
  }

  async recordDone(file: CopiedFile): Promise<void> {
    this.done.set(file.path, file);
    await this.append({ state: 'done', ...file });
  }

  /** Forget a file (its copy failed verification, or the target holds something else now). */
  async drop(filePath: string): Promise<void> {
    if (!this.done.delete(filePath)) return;
    await this.append({ state: 'dropped', path: filePath });
  }

  async recordVerified(): Promise<void> {
    await this.append({ state: 'verified', at: new Date().toISOString() });
  }

  private async append(rec: Record_): Promise<void> {
    if (!this.handle) return;
    await this.handle.write(`${JSON.stringify(rec)}\n`);
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}

function parse(line: string): Record_ | undefined {
  if (!line.trim()) return undefined;
  try {
    const rec = JSON.parse(line) as Partial<Record_ & CopiedFile>;
    if (rec.state === 'done' && typeof rec.path === 'string' && typeof rec.sha256 === 'string') return rec as Record_;
    if (rec.state === 'dropped' && typeof rec.path === 'string') return rec as Record_;
  } catch {
    /* a line torn by a kill */
  }
  return undefined;
}
