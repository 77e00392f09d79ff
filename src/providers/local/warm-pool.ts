import type { Logger } from '../../logger.js';

/** What the pool keeps: anything that can be started ahead and stopped unused. */
export interface Poolable {
  isAlive(): boolean;
  kill(): Promise<void>;
}

export interface WarmPoolOptions<T extends Poolable> {
  /** Sandboxes kept started even with no demand (SANDBOX_WARM_POOL; 0 disables the pool). */
  floor: number;
  /** The most the pool grows to under bursts (SANDBOX_WARM_POOL_MAX). */
  ceiling: number;
  launch: () => Promise<T>;
  log: Logger;
  /** Delay before a refill, so a starting agent does not compete with a new session's first calls. */
  refillDelayMs?: number;
}

export interface WarmPoolStatus {
  /** Started and waiting. */
  ready: number;
  /** Being started now. */
  starting: number;
  /** What the pool aims for: the floor, or the largest recent burst up to the ceiling. */
  target: number;
}

/** Demand is counted in buckets of this length; a burst is the busiest bucket. */
const BUCKET_MS = 2_000;
/** How long a burst keeps the pool grown: after this with no larger burst, it shrinks back. */
const MEMORY_MS = 120_000;
/** Sandboxes started at once while refilling: more would take the CPU from the sessions using it. */
const PARALLEL_STARTS = 4;
const TRIM_EVERY_MS = 10_000;

/**
 * Sandboxes started ahead of demand. It keeps `floor` ready and grows to the largest burst of takes seen
 * in the last two minutes (a burst: takes within two seconds), up to `ceiling`; then it shrinks back,
 * stopping spare sandboxes. A take gets the oldest started sandbox, or one still starting.
 */
export class WarmPool<T extends Poolable> {
  private readonly ready: T[] = [];
  private readonly starting = new Set<Promise<T | undefined>>();
  /** Takes per bucket: bucket start (ms) → count. */
  private readonly takes = new Map<number, number>();
  private refillTimer: NodeJS.Timeout | undefined;
  private readonly trimTimer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: WarmPoolOptions<T>) {
    this.trimTimer = setInterval(() => void this.trim(), TRIM_EVERY_MS).unref();
  }

  get enabled(): boolean {
    return this.options.floor > 0;
  }

  /** A started sandbox, or one that is starting, if any; the pool refills a little later. */
  async take(): Promise<T | undefined> {
    if (!this.enabled || this.closed) return undefined;
    this.countTake();
    this.scheduleRefill();
    while (this.ready.length) {
      const sandbox = this.ready.shift()!;
      if (sandbox.isAlive()) return sandbox;
    }
    // None ready: one that is starting is nearer than a new start, unless every one is spoken for.
    const [first] = this.starting;
    if (!first) return undefined;
    this.starting.delete(first);
    return first;
  }

  target(now = Date.now()): number {
    if (!this.enabled) return 0;
    let burst = 0;
    for (const [bucket, count] of this.takes) {
      if (now - bucket > MEMORY_MS) this.takes.delete(bucket);
      else burst = Math.max(burst, count);
    }
    return Math.max(this.options.floor, Math.min(burst, this.options.ceiling));
  }

  status(): WarmPoolStatus {
    return { ready: this.ready.length, starting: this.starting.size, target: this.target() };
  }

  /** Starts sandboxes until the pool holds its target, a few at a time. */
  fill(): void {
    if (this.closed || !this.enabled) return;
    const missing = this.target() - this.ready.length - this.starting.size;
    const room = PARALLEL_STARTS - this.starting.size;
    for (let index = 0; index < Math.min(missing, room); index++) this.startOne();
  }

  /** Stops every pooled sandbox; the pool takes no more. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.trimTimer);
    clearTimeout(this.refillTimer);
    const starting = await Promise.all(this.starting);
    this.starting.clear();
    const all = [...this.ready.splice(0), ...starting];
    await Promise.all(all.map((sandbox) => sandbox?.kill().catch(() => undefined)));
  }

  private startOne(): void {
    const started: Promise<T | undefined> = this.options.launch().then(
      (sandbox) => {
        // Taken while starting: the taker has it. Else it waits in the pool (unless the pool closed).
        if (!this.starting.delete(started)) return sandbox;
        if (this.closed) {
          void sandbox.kill().catch(() => undefined);
          return undefined;
        }
        this.ready.push(sandbox);
        this.fill();
        return sandbox;
      },
      (error: unknown) => {
        this.starting.delete(started);
        this.options.log.warn({ err: (error as Error).message }, 'warm pool sandbox failed to start');
        return undefined;
      },
    );
    this.starting.add(started);
  }

  private countTake(): void {
    const bucket = Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;
    this.takes.set(bucket, (this.takes.get(bucket) ?? 0) + 1);
  }

  private scheduleRefill(): void {
    if (this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.fill();
    }, this.options.refillDelayMs ?? 1000).unref();
  }

  /** Stops the spare sandboxes of a pool larger than its target (a burst long past). */
  private async trim(): Promise<void> {
    const spare = this.ready.length + this.starting.size - this.target();
    if (spare <= 0) return;
    const stopped = this.ready.splice(0, Math.min(spare, this.ready.length));
    await Promise.all(stopped.map((sandbox) => sandbox.kill().catch(() => undefined)));
    if (stopped.length) this.options.log.debug({ stopped: stopped.length }, 'warm pool shrank');
  }
}
