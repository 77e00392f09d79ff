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
    page.on('requestfinished', (request) => {
      void this.ended(request, undefined);
    });
    // A failed request may still have had a response: Chromium aborts a stylesheet that came back 404.
    page.on('requestfailed', (request) => {
      void this.ended(request, request.failure()?.errorText ?? 'failed');
    });
  }

  private async ended(request: Request, failure: string | undefined): Promise<void> {
    const res = await request.response().catch(() => null);
    this.add(request, res?.status(), failure);
  }

  private add(request: Request, status: number | undefined, failure: string | undefined): void {
    const t = request.timing();
    const url = request.url();
    this.entries.push({
      method: request.method(),
      url: url.length > MAX_URL ? `${url.slice(0, MAX_URL)}...` : url,
      resourceType: request.resourceType(),
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
export function isFailed(requestEntry: RequestEntry): boolean {
  return requestEntry.failure !== undefined || (requestEntry.status ?? 0) >= 400;
}

export function formatRequest(requestEntry: RequestEntry): string {
  const outcome =
    requestEntry.status !== undefined
      ? `${requestEntry.status}${requestEntry.failure ? ` (${requestEntry.failure})` : ''}`
      : (requestEntry.failure ?? '?');
  return `${requestEntry.method} ${requestEntry.url} -> ${outcome} (${requestEntry.resourceType}${requestEntry.durationMs !== undefined ? `, ${requestEntry.durationMs} ms` : ''})`;
}
