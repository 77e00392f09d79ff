import type { Page } from 'playwright-core';
import { SandboxError } from '../errors.js';
import type { ToolContext } from '../mcp/tool.js';
import { BrowserService } from './service.js';

/**
 * Runs a browser tool against the session's active tab. If Chromium turns out to have died under
 * the call, calls that do not depend on earlier page state (`retry`) run once more on a fresh
 * browser; others say the action did not happen.
 */
export async function browserCall<T>(ctx: ToolContext, retry: boolean, fn: (svc: BrowserService, page: Page) => Promise<T>): Promise<T> {
  const svc = BrowserService.of(ctx.session, ctx.config);
  try {
    return await fn(svc, await svc.page());
  } catch (e) {
    if (!(await svc.checkCrashed(e))) throw e;
    if (!retry) {
      throw new SandboxError('UNAVAILABLE', 'the browser crashed or exited during this call, so the action did not happen', { hint: 'the next browser call starts a fresh browser: navigate again and take a new snapshot (earlier refs are gone)', cause: e });
    }
    return fn(svc, await svc.page());
  }
}
