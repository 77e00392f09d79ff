import { z } from 'zod';
import { SandboxError } from '../errors.js';
import { defineTool, ok } from '../mcp/tool.js';
import { budgeted } from '../mcp/tool-result.js';
import type { ProcessInfo } from '../providers/types.js';

const processIdSchema = z.string().min(1).describe('processId from shell_start, or its name');
const SIGNALS = [
  'SIGTERM',
  'SIGKILL',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGSTOP',
  'SIGCONT',
] as const;

export const processShape = {
  processId: z.string(),
  name: z.string().optional(),
  command: z.string(),
  pid: z.number(),
  running: z.boolean(),
  exitCode: z.number().optional(),
  signal: z.string().optional(),
  startedAt: z.string(),
  outputBytes: z.number(),
};

export function describeProcess(processInfo: ProcessInfo): string {
  const state = processInfo.running
    ? 'running'
    : processInfo.signal
      ? `killed by ${processInfo.signal}`
      : `exited with code ${processInfo.exitCode}`;
  return `${processInfo.processId}${processInfo.name ? ` (${processInfo.name})` : ''} pid ${processInfo.pid}, ${state}: ${processInfo.command.length > 80 ? `${processInfo.command.slice(0, 77)}...` : processInfo.command}`;
}

/** The tools that follow and steer what shell_start started. */
export const processTools = [
  defineTool({
    name: 'shell_read',
    title: 'Read background process output',
    description:
      "Read a background process's output from a cursor (pass back the returned one); wait_s waits for output, the until regex, or exit.",
    inputSchema: {
      processId: processIdSchema,
      cursor: z.number().int().min(0).optional().describe('From the last read; omit for all output'),
      wait_s: z.number().min(0).max(300, 'wait_s is at most 300').optional().describe('Seconds to wait for output'),
      until: z.string().max(1000).optional().describe('Regex to wait for, e.g. "listening|ready"'),
      max_bytes: z
        .number()
        .int()
        .min(1)
        .max(1 << 22)
        .optional()
        .describe('Most bytes to return'),
    },
    outputSchema: {
      output: z.string().optional().describe('Absent when the result would pass the result budget: see the text'),
      outputPath: z
        .string()
        .optional()
        .describe('File in the sandbox with the whole output read, when the text shows only its head and tail'),
      cursor: z.number(),
      running: z.boolean(),
      exitCode: z.number().optional(),
      signal: z.string().optional(),
      droppedBytes: z.number(),
      matched: z.boolean(),
    },
    annotations: { readOnlyHint: true, idempotentHint: false, openWorldHint: false },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      const maxBytes = args.max_bytes ?? ctx.config.maxOutputBytes;
      const r = await sb.processes.read(args.processId, {
        cursor: args.cursor,
        waitMs: Math.round((args.wait_s ?? 0) * 1000),
        until: args.until,
        maxBytes,
      });
      const state = r.running ? 'running' : r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`;
      const untilNote = !args.until
        ? ''
        : r.matched
          ? '; until matched'
          : r.running
            ? '; until did not match yet'
            : '; until did not match (the process has ended)';
      const lines = [`${args.processId}: ${state}; next cursor ${r.cursor}${untilNote}`];
      if (r.droppedBytes)
        lines.push(`(${r.droppedBytes} older bytes scrolled out of the buffer before they were read)`);
      const outputAt = lines.length;
      lines.push('');
      // A read that filled max_bytes may have stopped before the end: say so, as file_read does.
      if (Buffer.byteLength(r.output) + 4 > maxBytes) {
        const all = await sb.processes.list();
        const total =
          (all.find((p) => p.processId === args.processId) ?? all.reverse().find((p) => p.name === args.processId))
            ?.outputBytes ?? 0;
        if (total > r.cursor)
          lines.push(`[${total - r.cursor} more bytes of output: continue with cursor: ${r.cursor}]`);
      }
      const { output, ...rest } = r;
      return budgeted(ctx, rest, { output }, (out) =>
        lines.map((line, i) => (i === outputAt ? out.output || '(no new output)' : line)).join('\n'),
      );
    },
  }),

  defineTool({
    name: 'shell_write',
    title: 'Write to a background process',
    description: "Write to a background process's stdin; close sends EOF.",
    inputSchema: {
      processId: processIdSchema,
      input: z.string().describe('e.g. "yes\\n"'),
      close: z.boolean().optional().describe('Then close stdin'),
    },
    outputSchema: { processId: z.string(), bytes: z.number(), closed: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      await sb.processes.write(args.processId, args.input, !!args.close);
      const bytes = Buffer.byteLength(args.input);
      return ok(
        { processId: args.processId, bytes, closed: !!args.close },
        `Wrote ${bytes} bytes to ${args.processId}${args.close ? ' and closed its stdin' : ''}. Use ${ctx.tool('shell_read')} to see its response.`,
      );
    },
  }),

  defineTool({
    name: 'shell_kill',
    title: 'Signal a background process',
    description: 'Signal a background process and its children (default SIGTERM); says whether it stopped.',
    inputSchema: {
      processId: processIdSchema,
      signal: z.enum(SIGNALS).optional().describe('Default SIGTERM'),
    },
    outputSchema: processShape,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      const signal = args.signal ?? 'SIGTERM';
      const matching = (await sb.processes.list()).filter(
        (q) => q.processId === args.processId || q.name === args.processId,
      );
      const ended = matching.length && matching.every((q) => !q.running) ? matching.at(-1) : undefined;
      // A process that has ended gets no signal: say so, rather than "Sent SIGTERM".
      if (ended)
        return ok(
          { ...ended },
          `${describeProcess(ended)}: it had already ended, so no signal was sent. Its output is still there: ${ctx.tool('shell_read')} {"processId": "${ended.processId}"}.`,
        );
      await sb.processes.kill(args.processId, signal);
      // Give it a moment to exit so the answer says whether the signal worked.
      const stop = signal === 'SIGSTOP' || signal === 'SIGCONT';
      const r = stop
        ? undefined
        : await sb.processes.read(args.processId, { waitMs: 2000, until: '(?!)', maxBytes: 0 });
      const p = (await sb.processes.list()).find((q) => q.processId === args.processId || q.name === args.processId);
      if (!p)
        return ok(
          {
            processId: args.processId,
            command: '',
            pid: -1,
            running: !!r?.running,
            exitCode: r?.exitCode ?? null,
            signal: r?.signal ?? null,
            startedAt: '',
            outputBytes: 0,
          },
          `Sent ${signal}.`,
        );
      const hint = p.running && !stop ? ' It is still running: send SIGKILL to force it.' : '';
      return ok({ ...p }, `Sent ${signal}: ${describeProcess(p)}.${hint}`);
    },
  }),

  defineTool({
    name: 'shell_list',
    title: 'List background processes',
    description: 'List background processes: id, name, command, running or exit code.',
    inputSchema: {},
    outputSchema: { processes: z.array(z.object(processShape)) },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx) {
      const sb = await ctx.session.sandbox();
      const processes = await sb.processes.list();
      return ok(
        { processes },
        processes.length
          ? processes.map(describeProcess).join('\n')
          : `No background processes. Start one with ${ctx.tool('shell_start')}.`,
      );
    },
  }),

  defineTool({
    name: 'shell_kill_all',
    title: 'Kill every process in the sandbox',
    description:
      "SIGKILL every process in the sandbox (in a named workspace, other sessions' too); files stay. Use it when the process limit is used up.",
    inputSchema: {},
    outputSchema: { killed: z.number().describe('Processes killed') },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx) {
      const sb = await ctx.session.sandbox();
      if (!sb.processes.killAll)
        throw new SandboxError('UNSUPPORTED', `the ${sb.provider} provider cannot kill every process of its sandbox`, {
          hint: 'stop processes one by one with shell_kill (shell_list shows them), or end the session for a fresh sandbox',
        });
      const killed = await sb.processes.killAll();
      return ok(
        { killed },
        `Killed ${killed} process${killed === 1 ? '' : 'es'}. Files are untouched; background processes show as ended in ${ctx.tool('shell_list')}.`,
      );
    },
  }),
];
