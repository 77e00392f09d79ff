import type { Page, Request } from 'playwright-core';

export interface RequestEntry {
  method: string;
  url: string;
  resourceType: string;
  /** HTTP status; absent when the request failed before a response. */
  status?: number;
  /** Chromium's reason when it failed (net::ERR_CONNECTION_REFUSED, net::ERR_ABORTED, ...). */
  failure?: string;
  durationMs?: number;
  at: string;
}

const MAX_ENTRIES = 500;
const MAX_URL = 500;

/**
 * The requests a tab made (newest 500), so a model can see why a page is broken: a 404 on a script,
 * a refused API call, a CORS failure. Entries are added when a request ends, with its outcome.
 */
export class NetworkLog {
  readonly entries: RequestEntry[] = [];
  private dropped = 0;

  constructor(page: Page) {
    page.on('requestfinished', (r) => {
      void this.ended(r, undefined);
    });
    // A failed request may still have had a response: Chromium aborts a stylesheet that came back 404.
    page.on('requestfailed', (r) => {
      void this.ended(r, r.failure()?.errorText ?? 'failed');
    });
  }

  private async ended(r: Request, failure: string | undefined): Promise<void> {
    const res = await r.response().catch(() => null);
    this.add(r, res?.status(), failure);
  }

  private add(r: Request, status: number | undefined, failure: string | undefined): void {
    const t = r.timing();
    const url = r.url();
    this.entries.push({
      method: r.method(),
      url: url.length > MAX_URL ? `${url.slice(0, MAX_URL)}...` : url,
      resourceType: r.resourceType(),
      status,
      failure,
      durationMs: t.responseEnd > 0 ? Math.round(t.responseEnd) : undefined,
      at: new Date().toISOString(),
    });
    if (this.entries.length > MAX_ENTRIES) {
      this.entries.shift();
      this.dropped++;
    }
  }

  get droppedCount(): number {
    return this.dropped;
  }
}

/** Failed: no response, or a 4xx/5xx one. */
export function isFailed(e: RequestEntry): boolean {
  return e.failure !== undefined || (e.status ?? 0) >= 400;
}

export function formatRequest(e: RequestEntry): string {
  const outcome = e.status !== undefined ? `${e.status}${e.failure ? ` (${e.failure})` : ''}` : (e.failure ?? '?');
  return `${e.method} ${e.url} -> ${outcome} (${e.resourceType}${e.durationMs !== undefined ? `, ${e.durationMs} ms` : ''})`;
}
