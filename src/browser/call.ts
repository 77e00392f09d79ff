import type { Locator, Page } from 'playwright-core';
import { SandboxError } from '../errors.js';
import type { ToolContext, ToolResult } from '../mcp/tool.js';
import { actionError, pageState, settle } from './result.js';
import { BrowserService } from './service.js';

/**
 * Runs a browser tool against the session's active tab. If Chromium turns out to have died under
 * the call, calls that do not depend on earlier page state (`retry`) run once more on a fresh
 * browser; others say the action did not happen.
 */
export async function browserCall<T>(
  ctx: ToolContext,
  retry: boolean,
  callback: (svc: BrowserService, page: Page) => Promise<T>,
): Promise<T> {
  const svc = BrowserService.of(ctx.session, ctx.config);
  try {
    return await callback(svc, await svc.page());
  } catch (e) {
    if (!(await svc.checkCrashed(e))) throw e;
    if (!retry) {
      throw new SandboxError(
        'UNAVAILABLE',
        'the browser crashed or exited during this call, so the action did not happen',
        {
          hint: 'the next browser call starts a fresh browser: navigate again and take a new snapshot (earlier refs are gone)',
          cause: e,
        },
      );
    }
    return callback(svc, await svc.page());
  }
}

/**
 * An action on the element behind a snapshot ref: locate it, act, let what it triggers settle, and
 * answer with what changed. `what` names the action in errors ("clicking e3"); `act` returns the line
 * the result leads with.
 */
export function refAction(
  ctx: ToolContext,
  ref: string,
  what: string,
  act: (loc: Locator, page: Page) => Promise<string>,
): Promise<ToolResult> {
  return browserCall(ctx, false, async (svc, page) => {
    const loc = await svc.locate(page, ref);
    let lead = '';
    try {
      await settle(
        page,
        async () => {
          lead = await act(loc, page);
        },
        ctx.config.browserNavTimeoutS * 1000,
      );
    } catch (e) {
      throw actionError(e, what, ctx.config.browserActionTimeoutS);
    }
    return pageState(ctx, svc, await svc.page(), 'auto', [lead]);
  });
}
