import { z } from 'zod';
import { firstLine } from '../browser/launch.js';
import { formatEntry } from '../browser/page-log.js';
import { navigationError, pageState, pageStateShape, pageTitle } from '../browser/result.js';
import { browserCall } from '../browser/call.js';
import { BrowserService } from '../browser/service.js';
import { SandboxError } from '../errors.js';
import { defineTool, ok } from '../mcp/tool.js';

const MAX_EXTRACT_CHARS = 100_000;
const MAX_FULL_PAGE_PX = 16_000;

const tabShape = z.object({ index: z.number(), url: z.string(), title: z.string(), active: z.boolean() });

export const browserPageTools = [
  defineTool({
    name: 'browser_screenshot',
    title: 'Screenshot of the page',
    description: 'PNG screenshot of the viewport, or the whole page with full_page.',
    inputSchema: {
      full_page: z.boolean().optional().describe('The whole page, not just the viewport'),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    async handler(ctx, args) {
      return browserCall(ctx, true, async (svc, page) => {
        let clip: { x: number; y: number; width: number; height: number } | undefined;
        if (args.full_page) {
          const size = await page
            .evaluate<{ w: number; h: number }>(
              '({ w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight })',
            )
            .catch(() => undefined);
          if (size && size.h > MAX_FULL_PAGE_PX) clip = { x: 0, y: 0, width: size.w, height: MAX_FULL_PAGE_PX };
        }
        let png: Buffer;
        try {
          png = await page.screenshot({
            type: 'png',
            fullPage: !!args.full_page,
            clip,
            timeout: ctx.config.browserNavTimeoutS * 1000,
          });
        } catch (e) {
          throw new SandboxError('UNAVAILABLE', `the screenshot failed: ${firstLine(e)}`, {
            hint: 'try again without full_page, or use browser_snapshot',
          });
        }
        const width = png.readUInt32BE(16);
        const height = png.readUInt32BE(20);
        const notes = svc.takeNotes();
        const text = [
          ...notes,
          `Screenshot of ${page.url()} (${width}x${height} PNG${clip ? `, cut at ${MAX_FULL_PAGE_PX} px` : ''}).`,
        ].join('\n');
        return {
          content: [
            { type: 'text', text },
            { type: 'image', data: png.toString('base64'), mimeType: 'image/png' },
          ],
        };
      });
    },
  }),
  defineTool({
    name: 'browser_extract',
    title: 'Visible text of the page',
    description: 'The visible text of the page, for reading articles, results or error pages.',
    inputSchema: {},
    outputSchema: { url: z.string(), title: z.string(), text: z.string(), truncated: z.boolean() },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: true },
    async handler(ctx) {
      return browserCall(ctx, true, async (svc, page) => {
        let text: string;
        try {
          text = await page.locator('body').innerText({ timeout: ctx.config.browserActionTimeoutS * 1000 });
        } catch (e) {
          throw new SandboxError('UNAVAILABLE', `reading the page text failed: ${firstLine(e)}`, {
            hint: 'the page may have no body yet: wait with browser_wait_for or take a browser_snapshot',
          });
        }
        text = text.replace(/\n{3,}/g, '\n\n').trim();
        const truncated = text.length > MAX_EXTRACT_CHARS;
        if (truncated) text = `${text.slice(0, MAX_EXTRACT_CHARS)}\n... (truncated)`;
        const title = await pageTitle(page);
        return ok(
          { url: page.url(), title, text, truncated },
          [...svc.takeNotes(), `Page: ${page.url()}`, `Title: ${title}`, '', text || '(no visible text)'].join('\n'),
        );
      });
    },
  }),
  defineTool({
    name: 'browser_tabs',
    title: 'List, open, select or close tabs',
    description: 'List, open, select or close tabs; browser tools act on the active one.',
    inputSchema: {
      action: z.enum(['list', 'new', 'select', 'close']).describe('What to do'),
      index: z.number().int().min(0).optional().describe('Tab to select or close'),
      url: z.string().optional().describe('URL for a new tab'),
    },
    outputSchema: { tabs: z.array(tabShape), active: z.number() },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(ctx, args) {
      const svc = BrowserService.of(ctx.session, ctx.config);
      await svc.page();
      let done = '';
      if (args.action === 'new') {
        try {
          const p = await svc.newTab(args.url);
          done = `Opened tab ${svc.tabs().pages.indexOf(p)}${args.url ? ` at ${p.url()}` : ''}.`;
        } catch (e) {
          if (e instanceof SandboxError) throw e;
          throw navigationError(e, args.url ?? '', ctx.config.browserNavTimeoutS);
        }
      } else if (args.action === 'select') {
        if (args.index === undefined)
          throw new SandboxError('INVALID_ARGUMENT', 'select needs index', {
            hint: 'list the tabs with browser_tabs {action: "list"}',
          });
        await svc.selectTab(args.index);
        done = `Selected tab ${args.index}.`;
      } else if (args.action === 'close') {
        await svc.closeTab(args.index);
        done = `Closed tab ${args.index ?? 'the active one'}.`;
        if (!svc.tabs().pages.length) await svc.page();
      }
      const { pages, active } = svc.tabs();
      const tabs = await Promise.all(
        pages.map(async (page, index) => ({
          index,
          url: page.url(),
          title: await pageTitle(page),
          active: index === active,
        })),
      );
      const lines = tabs.map((t) => `${t.active ? '*' : ' '} ${t.index}: ${t.title || '(untitled)'} ${t.url}`);
      return ok(
        { tabs, active },
        [...svc.takeNotes(), ...(done ? [done] : []), 'Tabs (* active):', ...lines].join('\n'),
      );
    },
  }),
  defineTool({
    name: 'browser_back',
    title: 'Go back',
    description: 'Go back one page; returns the snapshot.',
    inputSchema: {},
    outputSchema: pageStateShape,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(ctx) {
      return browserCall(ctx, false, async (svc, page) => {
        let response;
        const before = page.url();
        try {
          response = await page.goBack({ waitUntil: 'domcontentloaded' });
        } catch (e) {
          throw navigationError(e, 'the previous page', ctx.config.browserNavTimeoutS);
        }
        const lead =
          response === null && page.url() === before
            ? ["There is no previous page in this tab's history; nothing changed."]
            : ['Went back.'];
        return pageState(ctx, svc, page, 'full', lead);
      });
    },
  }),
  defineTool({
    name: 'browser_console',
    title: 'Console messages',
    description: 'Console messages and uncaught errors of the page (newest 500).',
    inputSchema: { only_errors: z.boolean().optional().describe('Only errors') },
    outputSchema: {
      messages: z.array(
        z.object({ type: z.string(), text: z.string(), location: z.string().optional(), at: z.string() }),
      ),
      dropped: z.number(),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      return browserCall(ctx, true, async (svc, page) => {
        const log = svc.pageLog(page);
        log?.takeNew();
        const messages = (log?.entries ?? []).filter(
          (m) => !args.only_errors || m.type === 'error' || m.type === 'pageerror',
        );
        const dropped = log?.droppedCount ?? 0;
        const text = messages.length ? messages.map(formatEntry).join('\n') : '(no console messages)';
        return ok(
          { messages, dropped },
          [
            ...svc.takeNotes(),
            `Console of ${page.url()}${dropped ? ` (${dropped} older messages dropped)` : ''}:`,
            text,
          ].join('\n'),
        );
      });
    },
  }),
  defineTool({
    name: 'browser_close',
    title: 'Close the browser',
    description: 'Close the browser and its tabs, cookies, storage.',
    inputSchema: {},
    outputSchema: { closed: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx) {
      const svc = BrowserService.of(ctx.session, ctx.config);
      const closed = await svc.closeBrowser();
      return ok(
        { closed },
        closed ? 'Closed the browser. The next browser tool call starts a fresh one.' : 'No browser was running.',
      );
    },
  }),
];
