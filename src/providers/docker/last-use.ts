import { scriptFile } from '../shared/script-file.js';
import type { ContainerExec } from './exec.js';

/** scripts/last-use.sh: the last-use mark of a handle's container, which any replica's idle reaper reads. */
const lastUseScript = scriptFile(new URL('./scripts/last-use.sh', import.meta.url));

/**
 * The last use of a stateless handle's container, marked inside it (docker labels cannot change after
 * create). Every replica that uses the container marks it, at most once per `everyMs`, and keeps
 * marking while a call or a preview connection is still running, so the reaper of any replica (see
 * DockerHandleReaper) sees it used however long a call takes.
 */
export class LastUse {
  private lastMark = 0;
  private holds = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly runner: ContainerExec,
    private readonly everyMs: number,
  ) {}

  /** Marks it now (at create and attach: the mark exists before any sandbox code runs). */
  async mark(): Promise<void> {
    this.lastMark = Date.now();
    await this.runner.rootScript(lastUseScript(), ['touch']).catch(() => undefined);
  }

  /** A use: marked in the background unless marked lately. */
  note(): void {
    if (this.stopped || Date.now() - this.lastMark < this.everyMs) return;
    void this.mark();
  }

  /** Something that runs a while (a call, a preview connection): marked until the returned function is called. */
  hold(): () => void {
    this.note();
    this.holds++;
    this.timer ??= setInterval(() => this.note(), this.everyMs).unref();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holds === 0) this.stopTimer();
    };
  }

  stop(): void {
    this.stopped = true;
    this.stopTimer();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Seconds since the container's last-use mark; 'unmarked' without a sound one; undefined if it could not be read. */
export async function idleSeconds(runner: ContainerExec): Promise<number | 'unmarked' | undefined> {
  const r = await runner.rootScript(lastUseScript(), ['age']).catch(() => undefined);
  if (!r || r.exitCode !== 0) return undefined;
  const answer = r.stdout.trim();
  if (answer === 'none') return 'unmarked';
  return /^-?\d{1,12}$/.test(answer) ? Math.max(0, Number(answer)) : 'unmarked';
}
