import type { Page, Request } from 'playwright-core';
import { z } from 'zod';
import { SandboxError } from '../errors.js';
import { settleWithin } from '../settle-within.js';
import type { ToolContext, ToolResult } from '../mcp/tool.js';
import { budgeted } from '../mcp/tool-result.js';
import { firstLine } from './launch.js';
import { formatEntry } from './page-log.js';
import type { BrowserService } from './service.js';

/** An element ref as the browser tools take it. */
export const refSchema = z
  .string()
  .regex(/^[A-Za-z0-9_]+$/, 'a ref looks like f1e2 or e12: copy it from [ref=...] in the latest snapshot')
  .describe('Ref from the latest snapshot, e.g. "f1e2"');

/** The structured part every page-changing browser tool returns. */
export const pageStateShape = {
  url: z.string(),
  title: z.string(),
  tab: z.number().describe('Index of the active tab'),
  snapshotKind: z
    .enum(['full', 'diff', 'unchanged', 'none'])
    .describe('full: the whole snapshot; diff: only lines added (+) or removed (-) since the last one'),
  snapshot: z.string().optional().describe('Absent when the result would pass the result budget: see the text'),
  snapshotPath: z
    .string()
    .optional()
    .describe('File in the sandbox with the whole snapshot, when the text shows only its head and tail'),
  console: z.array(z.string()).describe('Console messages and page errors since the previous result'),
};

/** A line-multiset diff: cheap, and enough for a model to see what an action changed. */
function lineDiff(before: string, after: string): { added: string[]; removed: string[] } {
  const count = new Map<string, number>();
  for (const l of before.split('\n')) count.set(l, (count.get(l) ?? 0) + 1);
  const added: string[] = [];
  for (const l of after.split('\n')) {
    const n = count.get(l) ?? 0;
    if (n > 0) count.set(l, n - 1);
    else added.push(l);
  }
  const removed = [...count.entries()].flatMap(([l, n]) => Array<string>(n).fill(l));
  return { added, removed };
}

/** How long a page's title may take: a page whose main thread never comes back answers nothing. */
const TITLE_WAIT_MS = 2000;

/** The page's title, or '' when the page does not answer in time (Playwright's title() has no timeout). */
export function pageTitle(page: Page): Promise<string> {
  return settleWithin(
    page.title().catch(() => ''),
    TITLE_WAIT_MS,
    () => '',
  );
}

/**
 * The page's URL and title plus its snapshot: `mode: 'full'` always sends the whole snapshot; `auto`
 * sends only what changed when the page stayed the same document and the change is small.
 */
export async function pageState(
  ctx: ToolContext,
  svc: BrowserService,
  page: Page,
  mode: 'full' | 'auto',
  lead: string[] = [],
): Promise<ToolResult> {
  // Title alongside the snapshot: one round trip to Chromium fewer on every result.
  const [{ text, previous }, title] = await Promise.all([svc.snapshot(page), pageTitle(page)]);
  const url = page.url();
  let kind: 'full' | 'diff' | 'unchanged' = 'full';
  let body = text;
  if (mode === 'auto' && previous && previous.url === url) {
    const { added, removed } = lineDiff(previous.text, text);
    if (!added.length && !removed.length) {
      kind = 'unchanged';
      body = '';
    } else if (added.length + removed.length < text.split('\n').length / 2) {
      kind = 'diff';
      body = [...removed.map((l) => `- ${l}`), ...added.map((l) => `+ ${l}`)].join('\n');
    }
  }
  const consoleLines = (svc.pageLog(page)?.takeNew() ?? []).map(formatEntry);
  const { active } = svc.tabs();
  // Notes of page events are written where no context is at hand: their tool names are rendered here.
  const parts = [...svc.takeNotes().map(ctx.renderNames), ...lead, `Page: ${url}`, `Title: ${title}`];
  if (consoleLines.length)
    parts.push(
      `Console (new):\n${consoleLines.slice(-30).join('\n')}${consoleLines.length > 30 ? `\n(${consoleLines.length - 30} earlier lines: ${ctx.tool('browser_console')})` : ''}`,
    );
  const rendered = (snapshot: string) => {
    if (kind === 'unchanged') return [...parts, 'Snapshot: unchanged since the last one (refs still valid).'];
    if (kind === 'diff')
      return [
        ...parts,
        `Snapshot changes since the last one (- removed, + added; call ${ctx.tool('browser_snapshot')} for the whole page):\n${snapshot}`,
      ];
    return [...parts, `Snapshot:\n${snapshot || '(empty page)'}`];
  };
  return budgeted(
    ctx,
    { url, title, tab: active, snapshotKind: kind, console: consoleLines },
    { snapshot: body },
    (out) => rendered(out.snapshot ?? '').join('\n'),
  );
}

/**
 * Runs an action and lets what it started settle: a navigation it caused loads, and fetches it
 * started get a moment to finish, so the snapshot that follows shows the result.
 */
export async function settle(page: Page, action: () => Promise<unknown>, navTimeoutMs: number): Promise<void> {
  let navigated = false;
  const pending = new Set<Request>();
  const onRequest = (request: Request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) navigated = true;
    else if (request.resourceType() === 'fetch' || request.resourceType() === 'xhr') pending.add(request);
  };
  const onDone = (request: Request) => {
    pending.delete(request);
  };
  page.on('request', onRequest);
  page.on('requestfinished', onDone);
  page.on('requestfailed', onDone);
  try {
    await action();
    await new Promise((r) => setTimeout(r, 50));
    if (navigated) await page.waitForLoadState('load', { timeout: navTimeoutMs }).catch(() => undefined);
    const deadline = Date.now() + 2000;
    while (pending.size && Date.now() < deadline && !page.isClosed()) await new Promise((r) => setTimeout(r, 25));
  } finally {
    page.off('request', onRequest);
    page.off('requestfinished', onDone);
    page.off('requestfailed', onDone);
  }
}

/** A Playwright navigation failure in words a model can act on. */
export function navigationError(error: unknown, url: string, timeoutS: number): SandboxError {
  const err = describeNavigationError(error, url, timeoutS);
  return new SandboxError(err.code, err.message, { hint: err.hint, cause: error });
}

function describeNavigationError(navigationError: unknown, url: string, timeoutS: number): SandboxError {
  const msg = firstLine(navigationError);
  const inSandbox =
    'The browser runs inside this sandbox: start the server there (shell_start) and open http://localhost:PORT; services on the host machine are not reachable';
  if (/Timeout \d+ms exceeded/.test(msg))
    return new SandboxError('TIMEOUT', `${url} did not finish loading within ${timeoutS} s`, {
      hint: 'the page may still be usable: call browser_snapshot; a slow server may need more time (SANDBOX_BROWSER_NAV_TIMEOUT)',
    });
  if (/ERR_CONNECTION_REFUSED/.test(msg))
    return new SandboxError('NOT_FOUND', `nothing is listening at ${url} (connection refused)`, { hint: inSandbox });
  if (/ERR_NAME_NOT_RESOLVED/.test(msg))
    return new SandboxError('NOT_FOUND', `cannot resolve the host name in ${url}`, {
      hint: 'check the spelling; the sandbox may have no internet access (sandbox_info shows its network)',
    });
  if (/ERR_(INTERNET_DISCONNECTED|ADDRESS_UNREACHABLE|NETWORK_ACCESS_DENIED|NETWORK_UNREACHABLE|PROXY)/.test(msg))
    return new SandboxError(
      'PERMISSION_DENIED',
      `${url} is not reachable from the sandbox (${msg.match(/net::\S+/)?.[0] ?? msg})`,
      { hint: 'the sandbox may have no network access (sandbox_info); local servers inside it still work' },
    );
  if (/ERR_FILE_NOT_FOUND|ERR_ACCESS_DENIED/.test(msg))
    return new SandboxError('NOT_FOUND', `${url}: no such file inside the sandbox`, {
      hint: "file:// URLs show the sandbox's files (e.g. file:///workspace/index.html), never the host's",
    });
  if (/ERR_UNSAFE_PORT/.test(msg))
    return new SandboxError('INVALID_ARGUMENT', `Chromium refuses to open ${url}: that port is blocked as unsafe`, {
      hint: 'serve the page on another port, e.g. 3000 or 8080',
    });
  if (/interrupted by another navigation to "chrome-error/.test(msg))
    return new SandboxError('UNAVAILABLE', `Chromium could not open ${url} and showed its error page instead`, {
      hint: 'for files, check the path exists inside the sandbox and is readable; for servers, check they answer (curl in shell_exec)',
    });
  if (/Target (page, context or browser )?(has been )?closed|Browser has been closed/i.test(msg))
    return new SandboxError(
      'UNAVAILABLE',
      `navigating to ${url} failed: the tab or browser closed meanwhile (it may have crashed)`,
      { hint: 'call browser_navigate again: a fresh browser is started when needed' },
    );
  if (/invalid URL|ERR_INVALID_URL/i.test(msg))
    return new SandboxError('INVALID_ARGUMENT', `${url} is not a valid URL`, {
      hint: 'use a full URL such as http://localhost:3000/ or file:///workspace/index.html',
    });
  return new SandboxError('UNAVAILABLE', `navigating to ${url} failed: ${msg}`);
}

/** A failed click, type or select in words a model can act on. */
export function actionError(error: unknown, what: string, timeoutS: number): SandboxError {
  if (error instanceof SandboxError) return error;
  const err = describeActionError(error, what, timeoutS);
  return new SandboxError(err.code, err.message, { hint: err.hint, cause: error });
}

function describeActionError(error: unknown, what: string, timeoutS: number): SandboxError {
  const msg = firstLine(error);
  if (/Timeout \d+ms exceeded/.test(msg)) {
    return new SandboxError(
      'TIMEOUT',
      `${what} did not succeed within ${timeoutS} s: the element stayed hidden, disabled, covered or moving`,
      {
        hint: 'take a new snapshot with browser_snapshot; scroll or close whatever covers it, or wait with browser_wait_for',
      },
    );
  }
  if (/not a <select>|not an? (input|select)|Element is not/i.test(msg))
    return new SandboxError('INVALID_ARGUMENT', `${what} failed: ${msg}`, {
      hint: "check the element's role in the snapshot",
    });
  if (/Target (page, context or browser )?(has been )?closed|Browser has been closed/i.test(msg))
    return new SandboxError('UNAVAILABLE', `${what} failed: the tab or browser was closed meanwhile`, {
      hint: 'call the tool again: a fresh browser is started when needed',
    });
  return new SandboxError('UNAVAILABLE', `${what} failed: ${msg}`);
}
