import { HeadTailCapture } from '../../agent/capture.js';
import type { ExecOptions, ExecResult } from '../types.js';

/**
 * One exec's end conditions on a cloud sandbox: its timeout and the caller's abort signal both call
 * `stop` (the vendor's tree kill), and are remembered so the result says which one ended it.
 */
export class ExecDeadline {
  timedOut = false;
  cancelled = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort = (): void => {
    this.cancelled = true;
    this.stop();
  };

  constructor(
    private readonly opts: ExecOptions,
    private readonly stop: () => void,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      stop();
    }, opts.timeoutMs);
    if (opts.signal?.aborted) this.onAbort();
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Whether we killed it (timeout or cancel) rather than it ending on its own. */
  get killed(): boolean {
    return this.timedOut || this.cancelled;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** stdout and stderr kept head-and-tail, each within half of the output cap. */
export function outputCaptures(maxOutputBytes: number): { out: HeadTailCapture; err: HeadTailCapture } {
  const budget = Math.max(512, Math.floor(maxOutputBytes / 2));
  return { out: new HeadTailCapture(budget), err: new HeadTailCapture(budget) };
}

/** The ExecResult of a finished exec; `started` is its performance.now() at the start. */
export function execResult(
  ended: { exitCode: number | null; signal: string | null },
  capture: { out: HeadTailCapture; err: HeadTailCapture },
  started: number,
  deadline: ExecDeadline,
): ExecResult {
  const dropped = capture.out.dropped + capture.err.dropped;
  return {
    exitCode: ended.exitCode,
    signal: ended.signal,
    stdout: capture.out.text(),
    stderr: capture.err.text(),
    durationMs: Math.round((performance.now() - started) * 100) / 100,
    timedOut: deadline.timedOut,
    cancelled: deadline.cancelled,
    truncated: dropped > 0,
    droppedBytes: dropped,
  };
}
