import { z } from 'zod';
import { SandboxError } from '../errors.js';
import { defineTool, ok, type ToolContext } from '../mcp/tool.js';
import { budgeted } from '../mcp/tool-result.js';
import type { ProcessInfo } from '../providers/types.js';

const envSchema = z
  .array(z.string().regex(/^[^=]+=/, 'env entries are KEY=VALUE strings, e.g. "NODE_ENV=test"'))
  .optional()
  .describe('Variables, e.g. ["NODE_ENV=test"]');

/**
 * `env` was an object ({"NODE_ENV": "test"}) before it became KEY=VALUE strings, which every client
 * framework accepts: the object form (and [{name, value}]) is still taken, only no longer advertised.
 */
function envAsStrings(args: Record<string, unknown>): Record<string, unknown> {
  const env = args.env;
  const entry = (name: unknown, value: unknown) =>
    typeof name === 'string' && typeof value === 'string' ? `${name}=${value}` : { name, value };
  if (env && typeof env === 'object' && !Array.isArray(env))
    return { ...args, env: Object.entries(env).map(([name, value]) => entry(name, value)) };
  if (Array.isArray(env))
    return {
      ...args,
      env: env.map((e: unknown) =>
        e && typeof e === 'object' && 'name' in e
          ? entry((e as { name: unknown }).name, (e as { value?: unknown }).value)
          : e,
      ),
    };
  return args;
}

/** KEY=VALUE strings as the map the providers take. */
function envMap(env: string[] | undefined): Record<string, string> | undefined {
  if (!env) return undefined;
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

/**
 * Zod's record-key errors do not carry a custom message, so names are checked here; a NUL byte cannot
 * pass through exec(2) at all, in the command or in a value.
 */
function checkInput(command: string, env: Record<string, string> | undefined): void {
  if (command.includes('\0'))
    throw new SandboxError(
      'INVALID_ARGUMENT',
      'command contains a NUL byte, which no program can receive in its arguments',
      {
        hint: "remove it; to produce one, write it in the command as printf '\\0', or pass binary data through stdin or a file",
      },
    );
  for (const [name, value] of Object.entries(env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new SandboxError('INVALID_ARGUMENT', `env: ${JSON.stringify(name)} is not a valid variable name`, {
        hint: 'variable names are letters, digits and _, not starting with a digit',
      });
    }
    if (value.includes('\0'))
      throw new SandboxError(
        'INVALID_ARGUMENT',
        `env: the value of ${name} contains a NUL byte, which environment variables cannot hold`,
        { hint: 'remove it, or pass binary data through stdin or a file' },
      );
  }
}
const cwdSchema = z.string().min(1).optional().describe('Working directory (default /workspace)');
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

const processShape = {
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

function describeProcess(p: ProcessInfo): string {
  const state = p.running ? 'running' : p.signal ? `killed by ${p.signal}` : `exited with code ${p.exitCode}`;
  return `${p.processId}${p.name ? ` (${p.name})` : ''} pid ${p.pid}, ${state}: ${p.command.length > 80 ? `${p.command.slice(0, 77)}...` : p.command}`;
}

/** Lines for the model: stdout and stderr, then what to do about a timeout or truncation. */
function renderExec(
  r: {
    exitCode: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
    durationMs: number;
    timedOut: boolean;
    truncated: boolean;
    cancelled: boolean;
  },
  timeoutS: number,
  ctx: Pick<ToolContext, 'tool' | 'config'>,
): string {
  const maxTimeoutS = ctx.config.maxExecTimeoutS;
  const status = r.timedOut
    ? `timed out after ${timeoutS} s: the command and all its child processes were killed. Raise timeout_s (up to ${maxTimeoutS}) or run it in the background with ${ctx.tool('shell_start')} and follow it with ${ctx.tool('shell_read')}.`
    : r.cancelled
      ? 'cancelled: the command and its child processes were killed.'
      : r.signal
        ? `killed by ${r.signal}${r.signal === 'SIGKILL' ? ' (possibly the sandbox memory limit)' : ''}`
        : `exit code ${r.exitCode}`;
  const parts = [`${status} (${Math.round(r.durationMs)} ms)`];
  if (r.stdout) parts.push(`--- stdout ---\n${r.stdout}`);
  if (r.stderr) parts.push(`--- stderr ---\n${r.stderr}`);
  if (!r.stdout && !r.stderr) parts.push('(no output)');
  if (r.truncated)
    parts.push(
      'Output was truncated (the middle was dropped). Redirect output to a file and read parts of it, or filter it (grep, head, tail).',
    );
  return parts.join('\n');
}

export const shellTools = [
  defineTool({
    name: 'shell_exec',
    title: 'Run a shell command',
    description:
      'Run a bash command in /workspace and wait; returns exit code, stdout, stderr (a non-zero exit is a result, not an error). Use shell_start for servers and long jobs.',
    inputSchema: {
      command: z
        .string()
        .min(1, 'command must not be empty')
        .max(1 << 20)
        .describe('e.g. "npm test"'),
      cwd: cwdSchema,
      env: envSchema,
      timeout_s: z
        .number()
        .min(0.1, 'timeout_s must be at least 0.1')
        .optional()
        .describe('Seconds before it is killed (default 120)'),
      stdin: z.string().optional().describe('Text for its standard input'),
    },
    outputSchema: {
      exitCode: z.number().optional(),
      signal: z.string().optional(),
      stdout: z.string().optional().describe('Absent when the result would pass the result budget: see the text'),
      stderr: z.string().optional().describe('Absent when the result would pass the result budget: see the text'),
      stdoutPath: z
        .string()
        .optional()
        .describe('File in the sandbox with the whole stdout, when the text shows only its head and tail'),
      stderrPath: z
        .string()
        .optional()
        .describe('File in the sandbox with the whole stderr, when the text shows only its head and tail'),
      durationMs: z.number(),
      timedOut: z.boolean(),
      truncated: z.boolean(),
      droppedBytes: z.number(),
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    prepareInput: envAsStrings,
    async handler(ctx, args) {
      const timeoutS = args.timeout_s ?? ctx.config.execTimeoutS;
      if (timeoutS > ctx.config.maxExecTimeoutS) {
        throw new SandboxError(
          'INVALID_ARGUMENT',
          `timeout_s ${timeoutS} is above the server's maximum of ${ctx.config.maxExecTimeoutS} s`,
          { hint: 'pass a smaller timeout_s, or use shell_start for long-running work' },
        );
      }
      const env = envMap(args.env);
      checkInput(args.command, env);
      const sb = await ctx.session.sandbox();
      const started = Date.now();
      let lastProgress = 0;
      const r = await sb.exec(args.command, {
        cwd: args.cwd,
        env,
        stdin: args.stdin,
        timeoutMs: Math.round(timeoutS * 1000),
        signal: ctx.signal,
        // Streaming output costs a message per chunk: only when someone is listening for progress.
        onOutput: !ctx.wantsProgress
          ? undefined
          : ({ data }) => {
              const now = Date.now();
              if (now - lastProgress < 250) return;
              lastProgress = now;
              const lastLine = data.trimEnd().split('\n').pop()?.slice(0, 200);
              ctx.progress({ progress: Math.round((now - started) / 100) / 10, total: timeoutS, message: lastLine });
            },
      });
      ctx.telemetry.commandRun(r.durationMs, r.exitCode, r.timedOut);
      const structured = {
        exitCode: r.exitCode,
        signal: r.signal,
        durationMs: r.durationMs,
        timedOut: r.timedOut,
        truncated: r.truncated,
        droppedBytes: r.droppedBytes,
      };
      return budgeted(ctx, structured, { stdout: r.stdout, stderr: r.stderr }, (out) =>
        renderExec({ ...r, ...out }, timeoutS, ctx),
      );
    },
  }),

  defineTool({
    name: 'shell_start',
    title: 'Start a background process',
    description:
      'Start a bash command in the background (server, watcher); returns its processId at once. Follow with shell_read.',
    inputSchema: {
      command: z
        .string()
        .min(1, 'command must not be empty')
        .max(1 << 20)
        .describe('e.g. "npm run dev"'),
      cwd: cwdSchema,
      env: envSchema,
      name: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'name: letters, digits, . _ - (up to 64)')
        .optional()
        .describe('Name to find it by'),
    },
    outputSchema: processShape,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    prepareInput: envAsStrings,
    async handler(ctx, args) {
      const env = envMap(args.env);
      checkInput(args.command, env);
      const sb = await ctx.session.sandbox();
      const p = await sb.processes.spawn(args.command, { cwd: args.cwd, env, name: args.name });
      return ok(
        { ...p },
        `Started ${describeProcess(p)}\nRead its output with ${ctx.tool('shell_read')} {"processId": "${p.processId}"} (add "until": "<regex>" and "wait_s" to wait for a line).`,
      );
    },
  }),

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
