import { z } from 'zod';
import { SandboxError } from '../errors.js';
import { defineTool, ok, type ToolContext, type ToolResult } from '../mcp/tool.js';
import { applyEdits, unifiedDiff } from './file-edits.js';
import { textPage } from './file-pages.js';
import { fmtBytes, fmtMode, parseMode, pathSchema } from './files-common.js';
import { manageFileTools } from './files-manage.js';

/** Images past this size are refused: clients and models reject larger ones anyway. */
const MAX_IMAGE_BYTES = 5 << 20;

const readOutput = {
  path: z.string(),
  kind: z.enum(['text', 'image', 'binary']),
  encoding: z.enum(['utf-8', 'base64']).optional(),
  content: z
    .string()
    .optional()
    .describe(
      'The text (no line numbers), or base64 bytes; left out when sending it twice would pass the result budget',
    ),
  mimeType: z.string().optional(),
  size: z.number().describe('File size in bytes'),
  startLine: z.number().optional(),
  endLine: z.number().optional(),
  totalLines: z.number().optional(),
  offset: z.number().optional().describe('base64: first byte returned'),
  bytes: z.number().optional().describe('base64: bytes returned'),
  truncated: z.boolean().describe('More of the file exists past what was returned'),
};

async function readBase64(
  ctx: ToolContext,
  path: string,
  offset: number,
  limit: number | undefined,
): Promise<ToolResult> {
  const sb = await ctx.session.sandbox();
  // base64 is sent twice (text and structured): 4 characters for 3 bytes, in both, within the budget.
  const cap = Math.min(ctx.config.maxReadBytes, Math.floor(((ctx.config.resultMaxKb * 1024 - 1024) / 8) * 3));
  const { data, size } = await sb.files.read(path, { offset, length: Math.min(limit ?? cap, cap) });
  const truncated = offset + data.length < size;
  const more = truncated
    ? `\n[${size - offset - data.length} more bytes: continue with offset: ${offset + data.length}]`
    : '';
  return ok(
    {
      path,
      kind: 'binary',
      encoding: 'base64',
      content: data.toString('base64'),
      size,
      offset,
      bytes: data.length,
      truncated,
    },
    `${path}: bytes ${offset}-${offset + data.length} of ${size}, base64:\n${data.toString('base64')}${more}`,
  );
}

const fileRead = defineTool({
  name: 'file_read',
  title: 'Read a file',
  description:
    'Read a text file with line numbers; offset (first line) and limit page big files. Images come back as images; other binary only with encoding base64.',
  inputSchema: {
    path: pathSchema,
    offset: z
      .number()
      .int('offset must be a whole number')
      .min(0, 'offset must be >= 1 (first line) or, with base64, >= 0 (first byte)')
      .optional()
      .describe('First line (1-based); base64: first byte'),
    limit: z
      .number()
      .int('limit must be a whole number')
      .min(1, 'limit must be at least 1')
      .optional()
      .describe('Lines; base64: bytes'),
    encoding: z.enum(['utf-8', 'utf8', 'base64']).optional().describe('base64 for binary files'),
  },
  outputSchema: readOutput,
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(ctx, args) {
    if (args.encoding === 'base64') return readBase64(ctx, args.path, args.offset ?? 0, args.limit);
    if (args.offset === 0)
      throw new SandboxError('INVALID_ARGUMENT', 'offset is 1-based: the first line is 1', {
        hint: 'pass offset: 1, or omit it',
      });
    const sb = await ctx.session.sandbox();
    // The result budget counts what is sent, so a page never reads more than it could send.
    const cap = Math.min(ctx.config.maxReadBytes, ctx.config.resultMaxKb * 1024);
    const r = await sb.files.readText(args.path, { offset: args.offset, limit: args.limit, maxBytes: cap });
    if (r.kind === 'image') {
      if (r.size > MAX_IMAGE_BYTES)
        throw new SandboxError(
          'LIMIT_EXCEEDED',
          `${args.path} is a ${fmtBytes(r.size)} image, over the ${fmtBytes(MAX_IMAGE_BYTES)} limit for image results`,
          {
            hint: 'make a smaller copy first (e.g. with ImageMagick or Python PIL via shell_exec), or read its bytes with encoding: "base64"',
          },
        );
      const { data } = await sb.files.read(args.path);
      return {
        structuredContent: { path: args.path, kind: 'image', mimeType: r.mimeType, size: r.size, truncated: false },
        content: [
          { type: 'image', data: data.toString('base64'), mimeType: r.mimeType! },
          { type: 'text', text: `${args.path}: ${r.mimeType}, ${fmtBytes(r.size)}` },
        ],
      };
    }
    if (r.kind === 'binary') {
      throw new SandboxError('INVALID_ARGUMENT', `${args.path} is a binary file (${fmtBytes(r.size)}), not text`, {
        hint: 'pass encoding: "base64" to get its bytes (offset and limit then count bytes), or inspect it with shell_exec (file, xxd | head, strings); text in another encoding than UTF-8 counts as binary: convert it with iconv',
      });
    }
    if (r.totalLines > 0 && r.startLine > r.totalLines) {
      throw new SandboxError(
        'INVALID_ARGUMENT',
        `offset ${r.startLine} is past the end of ${args.path}, which has ${r.totalLines} lines`,
        { hint: `pass an offset from 1 to ${r.totalLines}` },
      );
    }
    return textPage(ctx, args.path, r, cap);
  },
});

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** file_write's answer (the REST API's file upload answers the same). */
export const writeOutput = { path: z.string(), size: z.number(), mode: z.string() };

const fileWrite = defineTool({
  name: 'file_write',
  title: 'Write a file',
  description:
    'Create or overwrite a whole file, atomically (parents created). Binary: base64 content with encoding base64. For changes use file_edit.',
  inputSchema: {
    path: pathSchema,
    content: z.string().describe('The whole new content'),
    encoding: z.enum(['utf-8', 'utf8', 'base64']).optional().describe('Default utf-8'),
    mode: z.string().optional().describe('Octal, e.g. "755"'),
  },
  outputSchema: writeOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(ctx, args) {
    const mode = parseMode(args.mode);
    let data: Buffer | string = args.content;
    if (args.encoding === 'base64') {
      if (!BASE64.test(args.content) || args.content.replace(/\s/g, '').length % 4 !== 0) {
        throw new SandboxError('INVALID_ARGUMENT', 'content is not valid base64', {
          hint: 'encode the bytes with standard base64 (A-Z a-z 0-9 + /, = padding), or omit encoding to write text',
        });
      }
      data = Buffer.from(args.content, 'base64');
    }
    const sb = await ctx.session.sandbox();
    const st = await sb.files.write(args.path, data, { mode });
    return ok(
      { path: st.path, size: st.size, mode: fmtMode(st.mode) },
      `Wrote ${fmtBytes(st.size)} to ${st.path} (mode ${fmtMode(st.mode)}).`,
    );
  },
});

const fileEdit = defineTool({
  name: 'file_edit',
  title: 'Edit a file',
  description:
    'Replace exact text in a file: each old_text must match once (unless replace_all). All edits or none; returns a diff.',
  inputSchema: {
    path: pathSchema,
    edits: z
      .array(
        z
          .object({
            old_text: z.string().describe('Exact text to find'),
            new_text: z.string().describe('Replacement'),
            replace_all: z.boolean().optional().describe('Every match, not exactly one'),
          })
          .strict(),
      )
      .min(1, 'edits must hold at least one edit')
      .describe('Applied in order')
      .max(200, 'at most 200 edits per call'),
    dry_run: z.boolean().optional().describe('Only show the diff'),
  },
  outputSchema: {
    path: z.string(),
    diff: z.string(),
    edits: z.number(),
    replacements: z.number(),
    dryRun: z.boolean(),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(ctx, args) {
    const sb = await ctx.session.sandbox();
    // Parallel edits of one file would each read the same original and the last write would win,
    // silently losing the others: edits of a file run one at a time per session.
    const key = (await sb.files.stat(args.path)).path;
    return oneAtATime(ctx.session, key, () => editFile(ctx, args));
  },
});

/** Runs `callback` after every earlier call with the same session and key has finished. */
const queues = new WeakMap<object, Map<string, Promise<unknown>>>();
async function oneAtATime<T>(owner: object, key: string, callback: () => Promise<T>): Promise<T> {
  let byKey = queues.get(owner);
  if (!byKey) queues.set(owner, (byKey = new Map()));
  const prev = byKey.get(key) ?? Promise.resolve();
  const run = prev.then(callback, callback);
  const settled = run.catch(() => undefined);
  byKey.set(key, settled);
  try {
    return await run;
  } finally {
    if (byKey.get(key) === settled) byKey.delete(key);
  }
}

type EditArgs = {
  path: string;
  edits: { old_text: string; new_text: string; replace_all?: boolean }[];
  dry_run?: boolean;
};

async function editFile(ctx: ToolContext, args: EditArgs): Promise<ToolResult> {
  const sb = await ctx.session.sandbox();
  const before = await sb.files.stat(args.path);
  if (before.type === 'directory')
    throw new SandboxError('INVALID_ARGUMENT', `${args.path} is a directory`, {
      hint: 'give the path of a file inside it',
    });
  const { data } = await sb.files.read(args.path);
  if (data.subarray(0, 8192).includes(0))
    throw new SandboxError('INVALID_ARGUMENT', `${args.path} is a binary file`, {
      hint: 'file_edit changes text files; rewrite binary files with file_write and encoding: "base64"',
    });
  const original = data.toString('utf8');
  if (Buffer.byteLength(original) !== data.length)
    throw new SandboxError(
      'INVALID_ARGUMENT',
      `${args.path} is not valid UTF-8, so editing it as text would corrupt it`,
      { hint: 'edit it with shell_exec (e.g. sed) instead' },
    );
  const { text, replacements } = applyEdits(original, args.edits, args.path);
  const diff = unifiedDiff(args.path, original, text) ?? '(the diff is too large to show)';
  if (!args.dry_run) {
    const now = await sb.files.stat(args.path);
    if (now.mtime !== before.mtime || now.size !== before.size)
      throw new SandboxError('UNAVAILABLE', `${args.path} changed while it was being edited`, {
        hint: 'read it again and retry the edit; nothing was written',
      });
    await sb.files.write(args.path, text);
  }
  const what = `${args.edits.length} edit${args.edits.length > 1 ? 's' : ''} (${replacements} replacement${replacements > 1 ? 's' : ''})`;
  return ok(
    { path: args.path, diff, edits: args.edits.length, replacements, dryRun: !!args.dry_run },
    `${args.dry_run ? `Dry run, nothing written: ${what} would change` : `Applied ${what} to`} ${args.path}:\n${diff}`,
  );
}

export const fileTools = [fileRead, fileWrite, fileEdit, ...manageFileTools];
