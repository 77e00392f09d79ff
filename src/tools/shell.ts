import { z } from 'zod';
import { SandboxError } from '../errors.js';
import { defineTool, ok, type ToolContext } from '../mcp/tool.js';
import { budgeted } from '../mcp/tool-result.js';
import { checkInput, envAsStrings, envMap, envSchema } from './shell-input.js';
import { describeProcess, processShape, processTools } from './shell-processes.js';

const cwdSchema = z.string().min(1).optional().describe('Working directory (default /workspace)');
/** Lines for the model: stdout and stderr, then what to do about a timeout or truncation. */
function renderExec(
  result: {
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
  const status = result.timedOut
    ? `timed out after ${timeoutS} s: the command and all its child processes were killed. Raise timeout_s (up to ${maxTimeoutS}) or run it in the background with ${ctx.tool('shell_start')} and follow it with ${ctx.tool('shell_read')}.`
    : result.cancelled
      ? 'cancelled: the command and its child processes were killed.'
      : result.signal
        ? `killed by ${result.signal}${result.signal === 'SIGKILL' ? ' (possibly the sandbox memory limit)' : ''}`
        : `exit code ${result.exitCode}`;
  const parts = [`${status} (${Math.round(result.durationMs)} ms)`];
  if (result.stdout) parts.push(`--- stdout ---\n${result.stdout}`);
  if (result.stderr) parts.push(`--- stderr ---\n${result.stderr}`);
  if (!result.stdout && !result.stderr) parts.push('(no output)');
  if (result.truncated)
    parts.push(
      'Output was truncated (the middle was dropped). Redirect output to a file and read parts of it, or filter it (grep, head, tail).',
    );
  return parts.join('\n');
}

/** shell_exec's input and output (the REST API's exec route takes and answers the same). */
export const execInput = {
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
};

export const execOutput = {
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
};

export const shellTools = [
  defineTool({
    name: 'shell_exec',
    title: 'Run a shell command',
    description:
      'Run a bash command in /workspace and wait; returns exit code, stdout, stderr (a non-zero exit is a result, not an error). Use shell_start for servers and long jobs.',
    inputSchema: execInput,
    outputSchema: execOutput,
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

  ...processTools,
];
