/**
 * Keeps a cloud sandbox's vendor-side lifetime (E2B timeout, Daytona auto-stop) ahead of its use:
 * every period it renews if a call is in flight, a call happened since the last tick, or a
 * background process still runs. A long build inside one exec call therefore never outlives the
 * sandbox, while an abandoned sandbox (say, of a crashed server) still expires on the vendor's side.
 */
export class Renewal {
  private inFlight = 0;
  private lastActivity = Date.now();
  private timer?: NodeJS.Timeout;
  /** When the vendor will end the sandbox unless renewed (as far as we know). */
  expiresAt: number;

  constructor(
    private readonly lifetimeMs: number,
    private readonly renew: () => Promise<void>,
    private readonly busy: () => boolean,
    private readonly onError: (e: Error) => void,
  ) {
    this.expiresAt = Date.now() + lifetimeMs;
    const period = Math.max(2000, Math.floor(lifetimeMs / 3));
    this.timer = setInterval(() => this.tick(period), period);
    this.timer.unref();
  }

  /** Wraps one vendor call (or a whole exec): activity while it runs and when it ends. */
  async track<T>(callback: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await callback();
    } finally {
      this.inFlight--;
      this.lastActivity = Date.now();
    }
  }

  renewed(ms: number): void {
    this.expiresAt = Date.now() + ms;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(period: number): void {
    if (this.inFlight === 0 && Date.now() - this.lastActivity > period && !this.busy()) return;
    const started = Date.now();
    this.renew().then(() => {
      this.expiresAt = started + this.lifetimeMs;
    }, this.onError);
  }
}
