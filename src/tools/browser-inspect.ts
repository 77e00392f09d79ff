import path from 'node:path';
import { z } from 'zod';
import { formatRequest, isFailed } from '../browser/network-log.js';
import { actionError, pageState, pageStateShape, refSchema, settle } from '../browser/result.js';
import { browserCall, refAction } from '../browser/call.js';
import { firstLine } from '../browser/launch.js';
import { contentType } from '../deploy/mime.js';
import { SandboxError } from '../errors.js';
import { settleWithin } from '../settle-within.js';
import { defineTool, ok } from '../mcp/tool.js';

const MAX_RESULT_CHARS = 20_000;
const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

/** JSON for a model: undefined and functions said plainly, long values cut with a note. */
function render(value: unknown): { text: string; truncated: boolean } {
  const text = value === undefined ? 'undefined' : (JSON.stringify(value, null, 2) ?? String(value));
  return text.length > MAX_RESULT_CHARS
    ? { text: `${text.slice(0, MAX_RESULT_CHARS)}\n... (truncated)`, truncated: true }
    : { text, truncated: false };
}

function scriptError(error: unknown): SandboxError {
  const msg = firstLine(error).replace(/^(page|locator)\.evaluate: /, '');
  if (/SyntaxError/.test(msg))
    return new SandboxError('INVALID_ARGUMENT', `the script does not parse: ${msg}`, {
      hint: 'pass one expression (document.title) or a function (() => { ...; return value; }); with ref, (el) => el.value',
    });
  if (/EvalError|unsafe-eval|Content Security Policy/i.test(msg))
    return new SandboxError('INVALID_ARGUMENT', `this page's Content-Security-Policy forbids running scripts: ${msg}`, {
      hint: 'read the page with browser_snapshot or browser_extract instead',
    });
  return new SandboxError('INVALID_ARGUMENT', `the script threw: ${msg}`, {
    hint: "fix the script; it runs in the page, so only the page's own globals (document, window, fetch) exist",
  });
}

export const browserInspectTools = [
  defineTool({
    name: 'browser_hover',
    title: 'Hover over an element',
    description: 'Hover over the element with this ref (menus, tooltips); returns what changed.',
    inputSchema: { ref: refSchema },
    outputSchema: pageStateShape,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(ctx, args) {
      return refAction(ctx, args.ref, `hovering over ${args.ref}`, async (loc) => {
        await loc.hover();
        return `Hovered over ${args.ref}.`;
      });
    },
  }),
  defineTool({
    name: 'browser_evaluate',
    title: 'Run JavaScript in the page',
    description:
      'Run a JavaScript expression or function in the page (with ref: of that element); returns its value as JSON.',
    inputSchema: {
      function: z
        .string()
        .min(1, 'give an expression or a function')
        .describe('Expression or function, e.g. "() => document.title"'),
      ref: refSchema.optional().describe('Element the function gets'),
    },
    outputSchema: {
      url: z.string(),
      result: z.string().describe('The value as JSON (or "undefined")'),
      truncated: z.boolean(),
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    async handler(ctx, args) {
      return browserCall(ctx, false, async (svc, page) => {
        // The source is compiled by the page (never by this server), then called if it is a function.
        let value: unknown;
        const budgetS = ctx.config.browserNavTimeoutS;
        try {
          if (args.ref) {
            const loc = await svc.locate(page, args.ref);
            value = await within(
              budgetS,
              loc.evaluate(
                (el, src) => {
                  const f: unknown = (0, eval)(`(${src}\n)`);
                  return typeof f === 'function' ? f(el) : f;
                },
                args.function,
                { timeout: ctx.config.browserActionTimeoutS * 1000 },
              ),
            );
          } else {
            value = await within(
              budgetS,
              page.evaluate((src) => {
                const f: unknown = (0, eval)(`(${src}\n)`);
                return typeof f === 'function' ? f() : f;
              }, args.function),
            );
          }
        } catch (e) {
          if (e instanceof SandboxError) throw e;
          if (/Target .*closed|Timeout \d+ms exceeded/i.test(String(e)))
            throw actionError(e, 'running the script', ctx.config.browserActionTimeoutS);
          throw scriptError(e);
        }
        const { text, truncated } = render(value);
        return ok({ url: page.url(), result: text, truncated }, [...svc.takeNotes(), text].join('\n'));
      });
    },
  }),
  defineTool({
    name: 'browser_network_requests',
    title: 'Network requests of the page',
    description: "The page's requests: method, URL, status or failure (newest 500).",
    inputSchema: {
      only_failed: z.boolean().optional().describe('Only failures and 4xx/5xx'),
      url_contains: z.string().optional().describe('Only URLs containing this'),
    },
    outputSchema: {
      requests: z.array(
        z.object({
          method: z.string(),
          url: z.string(),
          resourceType: z.string(),
          status: z.number().optional(),
          failure: z.string().optional(),
          durationMs: z.number().optional(),
          at: z.string(),
        }),
      ),
      dropped: z.number().describe('Older requests no longer kept'),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      return browserCall(ctx, true, async (svc, page) => {
        const log = svc.networkLog(page);
        const requests = (log?.entries ?? []).filter(
          (e) => (!args.only_failed || isFailed(e)) && (!args.url_contains || e.url.includes(args.url_contains)),
        );
        const dropped = log?.droppedCount ?? 0;
        const head = `${requests.length} request(s)${args.only_failed ? ' that failed' : ''} in the active tab (${page.url()})${dropped ? `; ${dropped} older ones dropped` : ''}`;
        return ok({ requests, dropped }, [...svc.takeNotes(), head, ...requests.map(formatRequest)].join('\n'));
      });
    },
  }),
  defineTool({
    name: 'browser_file_upload',
    title: 'Upload files into a file input',
    description: 'Give a file input (by ref) files of the sandbox; returns what changed.',
    inputSchema: {
      ref: refSchema,
      paths: z
        .array(z.string().min(1))
        .min(1, 'give at least one path')
        .max(20, 'at most 20 files')
        .describe('Paths of files in the sandbox'),
    },
    outputSchema: pageStateShape,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    async handler(ctx, args) {
      // The files come through the sandbox's files API: the browser gets bytes, never a host path.
      const sb = await ctx.session.sandbox();
      const files: { name: string; mimeType: string; buffer: Buffer }[] = [];
      let total = 0;
      for (const p of args.paths) {
        const { data } = await sb.files.read(p);
        total += data.length;
        if (total > MAX_UPLOAD_BYTES)
          throw new SandboxError(
            'LIMIT_EXCEEDED',
            `the files add up to more than ${MAX_UPLOAD_BYTES / 1024 / 1024} MiB`,
            { hint: 'upload fewer or smaller files' },
          );
        files.push({ name: path.posix.basename(p), mimeType: contentType(p).split(';')[0]!, buffer: data });
      }
      return browserCall(ctx, false, async (svc, page) => {
        const loc = await svc.locate(page, args.ref);
        const timeout = ctx.config.browserActionTimeoutS * 1000;
        try {
          const isInput = await loc.evaluate(
            (el) => {
              const e = el as { tagName?: string; type?: string };
              return e.tagName === 'INPUT' && e.type === 'file';
            },
            undefined,
            { timeout },
          );
          await settle(
            page,
            async () => {
              if (isInput) return loc.setInputFiles(files, { timeout });
              // A click that opens the dialog fires at once; no need to wait the whole action timeout.
              const chooser = page.waitForEvent('filechooser', { timeout: Math.min(timeout, 2000) });
              await loc.click({ timeout });
              await (
                await chooser.catch(() => {
                  throw new SandboxError(
                    'INVALID_ARGUMENT',
                    `${args.ref} is not a file input, and clicking it opened no file dialog`,
                    {
                      hint: 'use the ref of the <input type=file> (or of the button that opens the dialog) from browser_snapshot',
                    },
                  );
                })
              ).setFiles(files, { timeout });
            },
            ctx.config.browserNavTimeoutS * 1000,
          );
        } catch (e) {
          if (/Non-multiple file input/i.test(String(e)))
            throw new SandboxError('INVALID_ARGUMENT', 'this file input takes one file', {
              hint: 'pass a single path',
            });
          throw actionError(e, `uploading into ${args.ref}`, ctx.config.browserActionTimeoutS);
        }
        const names = files.map((f) => `${f.name} (${f.buffer.length} B)`).join(', ');
        return pageState(ctx, svc, await svc.page(), 'auto', [`Chose ${names} in ${args.ref}.`]);
      });
    },
  }),
];

/**
 * Playwright waits for an evaluation as long as the page takes: a promise that never settles, or a
 * page whose script keeps its main thread busy, would hold the call for ever.
 */
function within<T>(budgetS: number, evaluation: Promise<T>): Promise<T> {
  return settleWithin(evaluation, budgetS * 1000, () => {
    throw new SandboxError('TIMEOUT', `the script did not finish within ${budgetS} s (SANDBOX_BROWSER_NAV_TIMEOUT)`, {
      hint: 'make it settle sooner; if the page itself is stuck in a loop, navigate away or open a new tab',
    });
  });
}
