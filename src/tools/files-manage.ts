import { z } from 'zod';
import { defineTool, ok } from '../mcp/tool.js';
import { budgeted } from '../mcp/tool-result.js';
import type { TreeEntry } from '../providers/types.js';
import { fmtBytes, fmtMode, fmtTime, pathSchema } from './files-common.js';

const MAX_DEPTH = 32;
const globSchema = z.string().min(1, 'glob must not be empty').max(1000).optional();
const hiddenSchema = z.boolean().optional().describe('Include dotfiles');

/** Folders the providers' walks list but never enter (devices, kernel files), whatever include_ignored says. */
const SYSTEM_FOLDER = /^\/(dev|proc|sys)$/;

function renderEntry(treeEntry: TreeEntry): string {
  if (treeEntry.type === 'directory' && treeEntry.skipped && SYSTEM_FOLDER.test(treeEntry.path))
    return `${treeEntry.path}/  (system folder, not walked: list it by its own path)`;
  if (treeEntry.type === 'directory')
    return `${treeEntry.path}/${treeEntry.skipped ? '  (not listed: pass include_ignored: true)' : ''}`;
  if (treeEntry.type === 'symlink') return `${treeEntry.path} -> ${treeEntry.linkTarget ?? '?'}`;
  return `${treeEntry.path}  ${fmtBytes(treeEntry.size)}  ${fmtTime(treeEntry.mtime)}${treeEntry.type === 'other' ? '  (special file)' : ''}`;
}

const entryShape = z.object({
  path: z.string(),
  type: z.enum(['file', 'directory', 'symlink', 'other']),
  size: z.number(),
  mtime: z.string(),
  linkTarget: z.string().optional(),
  skipped: z.boolean().optional(),
});

/** file_list's answer (the REST API's folder listing answers the same). */
export const listOutput = {
  root: z.string(),
  entries: z.array(entryShape),
  truncated: z.boolean(),
  hiddenCount: z.number(),
};

export const manageFileTools = [
  defineTool({
    name: 'file_list',
    title: 'List files',
    description:
      'List a folder: type, size, time per entry. depth walks subfolders; glob filters ("src/**/*.ts"). node_modules and .git are not entered.',
    inputSchema: {
      path: pathSchema.optional().describe('Default /workspace'),
      depth: z
        .number()
        .int('depth must be a whole number')
        .min(1, 'depth must be at least 1')
        .max(MAX_DEPTH, `depth is at most ${MAX_DEPTH}`)
        .optional()
        .describe('Levels (default 1)'),
      glob: globSchema.describe('e.g. "*.py"'),
      include_hidden: hiddenSchema,
      include_ignored: z.boolean().optional().describe('Enter node_modules, .git...'),
      max_entries: z
        .number()
        .int()
        .min(1, 'max_entries must be at least 1')
        .max(5000, 'max_entries is at most 5000')
        .optional()
        .describe('Default 500'),
    },
    outputSchema: listOutput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      const maxEntries = args.max_entries ?? 500;
      const r = await sb.files.tree(args.path ?? '.', {
        depth: args.depth ?? (args.glob ? MAX_DEPTH : 1),
        glob: args.glob,
        includeHidden: args.include_hidden,
        includeIgnored: args.include_ignored,
        maxEntries,
      });
      const lines = [
        `${r.root}: ${r.entries.length} entr${r.entries.length === 1 ? 'y' : 'ies'}${args.glob ? ` matching ${args.glob}` : ''}`,
        ...r.entries.map(renderEntry),
      ];
      if (!r.entries.length)
        lines.push(args.glob ? '(nothing matches: try a broader glob, or include_hidden)' : '(empty folder)');
      if (r.truncated)
        lines.push(
          `[truncated: more entries exist. Narrow path or glob, lower depth, or raise max_entries (up to 5000)]`,
        );
      if (r.hiddenCount)
        lines.push(
          `[${r.hiddenCount} hidden entr${r.hiddenCount === 1 ? 'y' : 'ies'} (names starting with ".") not shown: pass include_hidden: true]`,
        );
      return ok({ ...r }, lines.join('\n'));
    },
  }),

  defineTool({
    name: 'file_search',
    title: 'Search file contents',
    description:
      'Search files for a JavaScript regex; returns "path:line: text" per match. Skips binary and hidden files and node_modules.',
    inputSchema: {
      pattern: z
        .string()
        .min(1, 'pattern must not be empty')
        .max(2000, 'pattern is at most 2000 characters')
        .describe('e.g. "TODO|FIXME"'),
      path: pathSchema.optional().describe('Folder or file (default /workspace)'),
      glob: globSchema.describe('e.g. "*.ts"'),
      max_results: z
        .number()
        .int()
        .min(1, 'max_results must be at least 1')
        .max(1000, 'max_results is at most 1000')
        .optional()
        .describe('Default 100'),
      case_sensitive: z.boolean().optional().describe('Default true'),
      include_hidden: hiddenSchema,
    },
    outputSchema: {
      matches: z
        .array(z.object({ path: z.string(), line: z.number(), text: z.string() }))
        .optional()
        .describe('Absent when the result would pass the result budget: see the text'),
      matchesPath: z
        .string()
        .optional()
        .describe('File in the sandbox with every match, when the text shows only the head and tail of the list'),
      truncated: z.boolean(),
      filesSearched: z.number(),
      binarySkipped: z.number(),
      largeSkipped: z.number(),
      timedOut: z.boolean(),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      const maxResults = args.max_results ?? 100;
      const r = await sb.files.search(args.pattern, {
        path: args.path,
        glob: args.glob,
        maxResults,
        caseSensitive: args.case_sensitive ?? true,
        includeHidden: args.include_hidden,
        timeoutMs: ctx.config.searchTimeoutS * 1000,
      });
      const { matches, ...counts } = r;
      const found = matches.map((m) => `${m.path}:${m.line}: ${m.text}`).join('\n');
      const lines: string[] = [];
      if (!matches.length)
        lines.push(`No matches for /${args.pattern}/ in ${r.filesSearched} file${r.filesSearched === 1 ? '' : 's'}.`);
      if (r.truncated)
        lines.push(`[stopped at ${maxResults} matches: narrow path or glob, or raise max_results (up to 1000)]`);
      if (r.timedOut)
        lines.push(
          `[stopped after ${ctx.config.searchTimeoutS} s: results are partial. Narrow path or glob, or simplify the pattern (nested quantifiers like (a+)+ can run for ever)]`,
        );
      const skipped = [
        r.binarySkipped && `${r.binarySkipped} binary`,
        r.largeSkipped && `${r.largeSkipped} over 32 MB`,
      ].filter(Boolean);
      if (skipped.length) lines.push(`[skipped ${skipped.join(' and ')} file(s)]`);
      return budgeted(ctx, counts, { matches: found }, (out) => [out.matches, ...lines].filter(Boolean).join('\n'), {
        matches,
      });
    },
  }),

  defineTool({
    name: 'file_move',
    title: 'Move or rename',
    description: 'Move or rename a file or folder; `to` is the full new path.',
    inputSchema: {
      from: pathSchema.describe('Existing path'),
      to: pathSchema.describe('New path'),
      overwrite: z.boolean().optional().describe('Replace what is there'),
    },
    outputSchema: { from: z.string(), to: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      await sb.files.rename(args.from, args.to, { overwrite: args.overwrite });
      return ok({ from: args.from, to: args.to }, `Moved ${args.from} to ${args.to}.`);
    },
  }),

  defineTool({
    name: 'file_delete',
    title: 'Delete a file or folder',
    description: 'Delete a file or symlink, or a folder with recursive: true. No undo.',
    inputSchema: {
      path: pathSchema,
      recursive: z.boolean().optional().describe('Needed for a folder'),
    },
    outputSchema: { path: z.string(), type: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      const st = await sb.files.stat(args.path);
      await sb.files.remove(args.path, { recursive: args.recursive });
      return ok(
        { path: st.path, type: st.type },
        `Deleted ${st.type === 'directory' ? 'folder' : st.type} ${st.path}${st.type === 'directory' ? ' and its contents' : ''}.`,
      );
    },
  }),

  defineTool({
    name: 'file_info',
    title: 'File info',
    description: 'Type, size, permissions, times, symlink target; text, image or binary.',
    inputSchema: { path: pathSchema },
    outputSchema: {
      path: z.string(),
      type: z.enum(['file', 'directory', 'symlink', 'other']),
      size: z.number(),
      mode: z.string(),
      mtime: z.string(),
      atime: z.string(),
      ctime: z.string(),
      birthtime: z.string(),
      linkTarget: z.string().optional(),
      kind: z.enum(['text', 'image', 'binary']).optional(),
      mimeType: z.string().optional(),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      const st = await sb.files.stat(args.path);
      const info = { ...st, mode: fmtMode(st.mode) };
      const lines = [
        `${st.path}: ${st.type}${st.kind ? ` (${st.mimeType ?? st.kind})` : ''}${st.linkTarget !== undefined ? ` -> ${st.linkTarget}` : ''}`,
        `size ${fmtBytes(st.size)} (${st.size} bytes), mode ${info.mode}`,
        `modified ${st.mtime}, accessed ${st.atime}, changed ${st.ctime}, created ${st.birthtime}`,
      ];
      return ok(info, lines.join('\n'));
    },
  }),
];
