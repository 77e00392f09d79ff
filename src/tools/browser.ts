import type { Page } from 'playwright-core';
import { z } from 'zod';
import { actionError, navigationError, pageState, pageStateShape, refSchema, settle } from '../browser/result.js';
import { browserCall, refAction } from '../browser/call.js';
import { SandboxError } from '../errors.js';
import { defineTool } from '../mcp/tool.js';
import { browserInspectTools } from './browser-inspect.js';
import { browserPageTools } from './browser-page.js';

/** A page action runs the page's code and changes its state (a click may submit or delete): destructive. */
const act = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true } as const;

/** "localhost:3000/x" and "example.com" mean http(s) pages, as in an address bar; "/workspace/x.html" a file. */
export function normalizeUrl(raw: string): string {
  const url = raw.trim();
  if (url.startsWith('/')) return `file://${url}`;
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) && !/^(localhost|[\w.-]+):\d+/i.test(url)) return url;
  if (/^(localhost|127\.|\[::1\]|0\.0\.0\.0)/i.test(url)) return `http://${url}`;
  return /^[\w-]+(\.[\w-]+)+(:\d+)?(\/|$)/.test(url) ? `https://${url}` : url;
}

/**
 * Preview URLs (`http://3000-<id>.localhost:8080/x`) are how the host reaches a port of this sandbox;
 * the browser lives in the sandbox, where that port is localhost:3000. Site URLs are served on the
 * host, which the sandbox cannot reach: say so rather than "nothing is listening".
 */
function fromInside(url: string, sandboxId: string): { url: string; note?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url };
  }
  if (!/^https?:$/.test(u.protocol)) return { url };
  const preview = /^(\d{1,5})-([a-z0-9]{8,64})\./.exec(u.hostname);
  if (preview?.[2] === sandboxId) {
    const inside = `http://localhost:${preview[1]}${u.pathname}${u.search}${u.hash}`;
    return {
      url: inside,
      note: `Note: ${url} is this sandbox's port ${preview[1]} seen from outside; the browser runs inside the sandbox, so it opened ${inside}.`,
    };
  }
  if (/^(\d{1,5}-[a-z0-9]{8,64}|[a-z0-9-]+\.site)\.localhost$/.test(u.hostname)) {
    throw new SandboxError(
      'UNSUPPORTED',
      `${url} is served by sandbox-mcp on the host, which this sandbox's browser cannot reach`,
      {
        hint: preview
          ? 'open servers of this sandbox as http://localhost:PORT/'
          : 'to look at a deployed site, open the folder you deployed: serve it inside the sandbox (e.g. shell_start "python3 -m http.server 8000 -d my-app/dist") and open http://localhost:8000/',
      },
    );
  }
  return { url };
}

/**
 * page.goto, coping with Chromium's habit around error pages: leaving one restarts the navigation
 * in a fresh renderer ("interrupted by another navigation" to the same URL: wait for that one), and
 * an earlier failure's error page can land late and interrupt this navigation (try again).
 */
async function gotoSettled(page: Page, url: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await page.goto(url, { waitUntil: 'domcontentloaded' });
      return;
    } catch (e) {
      const other = /interrupted by another navigation to "([^"]*)"/.exec(e instanceof Error ? e.message : '')?.[1];
      if (other === undefined || attempt >= 2) throw e;
      if (other === page.url() && !other.startsWith('chrome-error:')) {
        await page.waitForLoadState('domcontentloaded');
        return;
      }
    }
  }
}

export const browserTools = [
  defineTool({
    name: 'browser_navigate',
    title: 'Open a URL in the browser',
    description:
      "Open a URL in the browser, which runs in the sandbox (http://localhost:PORT works); returns the page's snapshot.",
    inputSchema: {
      url: z.string().min(1, 'url must not be empty').describe('e.g. "http://localhost:3000/"'),
    },
    outputSchema: pageStateShape,
    annotations: act,
    async handler(ctx, args) {
      const { url, note } = fromInside(normalizeUrl(args.url), (await ctx.session.sandbox()).id);
      return browserCall(ctx, true, async (svc, page) => {
        try {
          await gotoSettled(page, url);
        } catch (e) {
          throw navigationError(e, url, ctx.config.browserNavTimeoutS);
        }
        // A short grace for the load event (images, late scripts) without holding fast pages back.
        await page.waitForLoadState('load', { timeout: 3000 }).catch(() => undefined);
        return pageState(ctx, svc, page, 'full', note ? [note] : []);
      });
    },
  }),
  defineTool({
    name: 'browser_snapshot',
    title: 'Accessibility snapshot of the page',
    description:
      "The page's accessibility tree as text, each element tagged [ref=...] (e.g. [ref=f1e2]) for the action tools.",
    inputSchema: {},
    outputSchema: pageStateShape,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    async handler(ctx) {
      return browserCall(ctx, true, async (svc, page) => {
        return pageState(ctx, svc, page, 'full');
      });
    },
  }),
  defineTool({
    name: 'browser_click',
    title: 'Click an element',
    description: 'Click the element with this ref; returns what changed on the page.',
    inputSchema: { ref: refSchema, double: z.boolean().optional().describe('Double-click instead') },
    outputSchema: pageStateShape,
    annotations: act,
    async handler(ctx, args) {
      return refAction(ctx, args.ref, `clicking ${args.ref}`, async (loc) => {
        await (args.double ? loc.dblclick() : loc.click());
        return `Clicked ${args.ref}.`;
      });
    },
  }),
  defineTool({
    name: 'browser_type',
    title: 'Type into a field',
    description: 'Replace the text of a field (by ref); submit presses Enter. Returns what changed.',
    inputSchema: {
      ref: refSchema,
      text: z.string().describe('The new content of the field'),
      submit: z.boolean().optional().describe('Press Enter after'),
    },
    outputSchema: pageStateShape,
    annotations: act,
    async handler(ctx, args) {
      return refAction(ctx, args.ref, `typing into ${args.ref}`, async (loc) => {
        await loc.fill(args.text);
        if (args.submit) await loc.press('Enter');
        return `Typed ${args.text.length} characters into ${args.ref}${args.submit ? ' and pressed Enter' : ''}.`;
      });
    },
  }),
  defineTool({
    name: 'browser_press_key',
    title: 'Press a key',
    description: 'Press a key or chord in the focused element, e.g. "Enter", "Control+a".',
    inputSchema: {
      key: z.string().min(1).describe('Key, e.g. "Enter" or "Shift+Tab"'),
    },
    outputSchema: pageStateShape,
    annotations: act,
    async handler(ctx, args) {
      return browserCall(ctx, false, async (svc, page) => {
        try {
          await settle(page, () => page.keyboard.press(args.key), ctx.config.browserNavTimeoutS * 1000);
        } catch (e) {
          if (/Unknown key/i.test(String(e)))
            throw new SandboxError('INVALID_ARGUMENT', `unknown key ${JSON.stringify(args.key)}`, {
              hint: 'use names like Enter, Escape, Tab, ArrowDown, Backspace, PageDown, or chords like Control+a',
            });
          throw actionError(e, `pressing ${args.key}`, ctx.config.browserActionTimeoutS);
        }
        return pageState(ctx, svc, await svc.page(), 'auto', [`Pressed ${args.key}.`]);
      });
    },
  }),
  defineTool({
    name: 'browser_select_option',
    title: 'Choose options in a select',
    description: 'Choose options (by value or label) in a <select> by ref; returns what changed.',
    inputSchema: {
      ref: refSchema,
      values: z.array(z.string()).min(1, 'give at least one value').describe('Values or labels'),
    },
    outputSchema: pageStateShape,
    annotations: act,
    async handler(ctx, args) {
      return refAction(ctx, args.ref, `selecting ${JSON.stringify(args.values)} in ${args.ref}`, async (loc) => {
        const chosen = await loc.selectOption(args.values);
        return `Selected ${JSON.stringify(chosen)} in ${args.ref}.`;
      });
    },
  }),
  defineTool({
    name: 'browser_scroll',
    title: 'Scroll the page',
    description: 'Scroll an element (by ref) into view, or the page by dy pixels.',
    inputSchema: {
      ref: refSchema.optional(),
      dy: z.number().optional().describe('Pixels down (negative: up)'),
    },
    outputSchema: pageStateShape,
    annotations: { ...act, destructiveHint: false },
    async handler(ctx, args) {
      return browserCall(ctx, false, async (svc, page) => {
        try {
          if (args.ref) await (await svc.locate(page, args.ref)).scrollIntoViewIfNeeded();
          else await page.mouse.wheel(0, args.dy ?? Math.round((page.viewportSize()?.height ?? 720) * 0.8));
          await page.waitForTimeout(50);
        } catch (e) {
          throw actionError(e, args.ref ? `scrolling to ${args.ref}` : 'scrolling', ctx.config.browserActionTimeoutS);
        }
        const y = await page
          .evaluate<string>(
            '`${Math.round(window.scrollY)} of ${Math.max(0, document.documentElement.scrollHeight - window.innerHeight)}`',
          )
          .catch(() => '?');
        return pageState(ctx, svc, page, 'auto', [`Scrolled; vertical position ${y} px.`]);
      });
    },
  }),
  defineTool({
    name: 'browser_wait_for',
    title: 'Wait for text or time',
    description: 'Wait for text to appear or text_gone to go (up to time_s, default 10), or time_s seconds.',
    inputSchema: {
      text: z.string().min(1).optional().describe('Text to wait for'),
      text_gone: z.string().min(1).optional().describe('Text to wait to go'),
      time_s: z
        .number()
        .min(0.1, 'time_s must be at least 0.1')
        .max(60, 'time_s is at most 60')
        .optional()
        .describe('Seconds (at most, with text)'),
    },
    outputSchema: pageStateShape,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    async handler(ctx, args) {
      if (!args.text && !args.text_gone && !args.time_s)
        throw new SandboxError('INVALID_ARGUMENT', 'give text, text_gone or time_s', {
          hint: 'e.g. {"text": "Saved"} waits until "Saved" shows',
        });
      return browserCall(ctx, false, async (svc, page) => {
        const limit = (args.time_s ?? 10) * 1000;
        const started = Date.now();
        try {
          if (args.text) await page.getByText(args.text).first().waitFor({ state: 'visible', timeout: limit });
          if (args.text_gone)
            await page
              .getByText(args.text_gone)
              .first()
              .waitFor({ state: 'hidden', timeout: Math.max(1, limit - (Date.now() - started)) });
          if (!args.text && !args.text_gone) await page.waitForTimeout(limit);
        } catch (e) {
          if (/Timeout \d+ms exceeded/.test(String(e))) {
            const what =
              args.text && !args.text_gone
                ? `text ${JSON.stringify(args.text)} did not appear`
                : args.text_gone
                  ? `text ${JSON.stringify(args.text_gone)} did not disappear`
                  : 'waiting failed';
            throw new SandboxError('TIMEOUT', `${what} within ${limit / 1000} s`, {
              hint: 'check the page with browser_snapshot; wait longer with time_s (up to 60)',
            });
          }
          throw actionError(e, 'waiting', limit / 1000);
        }
        const waited = ((Date.now() - started) / 1000).toFixed(1);
        return pageState(ctx, svc, page, 'auto', [
          `Waited ${waited} s${args.text ? `: ${JSON.stringify(args.text)} is visible` : ''}${args.text_gone ? `: ${JSON.stringify(args.text_gone)} is gone` : ''}.`,
        ]);
      });
    },
  }),
  ...browserPageTools,
  ...browserInspectTools,
];
