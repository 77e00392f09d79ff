import { randomBytes } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

/**
 * The load of `bench --stress`: sessions of the MCP SDK's own HTTP client (2025-11-25, one Mcp-Session-Id
 * and so one sandbox each), each running `concurrency` workers through a mix of what agents do most:
 * commands, file writes and reads, searches, and a background process read until it ends. Every answer
 * is checked (output, file content, matches), so a wrong answer counts as an error, not as speed.
 */

export type Operation =
  'create' | 'shell_exec' | 'file_write' | 'file_read' | 'file_search' | 'shell_start' | 'shell_read';

interface ToolResult {
  isError?: boolean;
  content?: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
}

/** What the run collects: a duration per successful call, and each failure's message. */
export class Recorder {
  readonly samples = new Map<Operation, number[]>();
  readonly errors = new Map<string, number>();
  failed = 0;

  record(operation: Operation, ms: number): void {
    const list = this.samples.get(operation) ?? [];
    list.push(ms);
    this.samples.set(operation, list);
  }

  fail(operation: Operation, message: string): void {
    this.failed++;
    const key = `${operation}: ${message.replace(/\s+/g, ' ').slice(0, 200)}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  get succeeded(): number {
    let n = 0;
    for (const list of this.samples.values()) n += list.length;
    return n;
  }
}

/** The load's bounds: it ends at the deadline or when the call budget is spent, whichever comes first. */
export class Budget {
  private remaining: number;
  constructor(
    calls: number,
    readonly deadline: number,
  ) {
    this.remaining = calls;
  }

  take(): boolean {
    if (this.remaining <= 0 || Date.now() >= this.deadline) return false;
    this.remaining--;
    return true;
  }
}

function firstText(toolResult: ToolResult): string {
  return toolResult.content?.find((c) => c.type === 'text')?.text ?? '(no text)';
}

/** One timed call; resolves to its structured result, or undefined when it failed (recorded). */
async function timed(
  rec: Recorder,
  operation: Operation,
  call: () => Promise<ToolResult>,
  check: (out: Record<string, unknown>) => string | undefined,
): Promise<Record<string, unknown> | undefined> {
  const started = performance.now();
  try {
    const r = await call();
    const out = r.structuredContent ?? {};
    const problem = r.isError ? firstText(r) : check(out);
    if (problem) {
      rec.fail(operation, problem);
      return undefined;
    }
    rec.record(operation, performance.now() - started);
    return out;
  } catch (e) {
    rec.fail(operation, (e as Error).message);
    return undefined;
  }
}

type Step = 'exec' | 'write-read' | 'search' | 'process';
/** Weights 4 : 3 : 2 : 1; each worker writes first, so its searches have a file to find. */
const MIX: Step[] = [
  'write-read',
  'exec',
  'search',
  'exec',
  'process',
  'write-read',
  'exec',
  'search',
  'exec',
  'write-read',
];

interface Worker {
  client: Client;
  rec: Recorder;
  budget: Budget;
  folder: string;
  needle: string;
}

const tool = (worker: Worker, name: string, args: Record<string, unknown>) => () =>
  worker.client.callTool({ name, arguments: args }) as Promise<ToolResult>;

/** One step of the mix; false once the budget is spent. */
async function runStep(worker: Worker, step: Step, iteration: number): Promise<boolean> {
  if (!worker.budget.take()) return false;
  if (step === 'exec') {
    await timed(
      worker.rec,
      'shell_exec',
      tool(worker, 'shell_exec', { command: 'echo $((6 * 7)); ls /tmp >/dev/null' }),
      (options) =>
        options.exitCode === 0 && options.stdout === '42\n'
          ? undefined
          : `unexpected result: exit ${String(options.exitCode)}`,
    );
  } else if (step === 'search') {
    await timed(
      worker.rec,
      'file_search',
      tool(worker, 'file_search', { pattern: worker.needle, path: worker.folder }),
      (options) =>
        Array.isArray(options.matches) && options.matches.length > 0 ? undefined : `no match for ${worker.needle}`,
    );
  } else if (step === 'write-read') {
    const path = `${worker.folder}/note-${iteration % 4}.txt`;
    const lines =
      randomBytes(1536)
        .toString('base64')
        .match(/.{1,64}/g) ?? [];
    const content = `${[...lines, worker.needle].join('\n')}\n`;
    const written = await timed(
      worker.rec,
      'file_write',
      tool(worker, 'file_write', { path, content }),
      () => undefined,
    );
    if (!written || !worker.budget.take()) return Boolean(written);
    await timed(worker.rec, 'file_read', tool(worker, 'file_read', { path }), (options) =>
      options.content === content ? undefined : 'file read back differs from what was written',
    );
  } else {
    const started = await timed(
      worker.rec,
      'shell_start',
      tool(worker, 'shell_start', { command: 'for i in 1 2 3; do echo tick$i; sleep 0.05; done' }),
      (o) => (typeof o.processId === 'string' ? undefined : 'no processId'),
    );
    if (!started || !worker.budget.take()) return Boolean(started);
    const args = { processId: started.processId, wait_s: 10, until: 'tick3' };
    await timed(worker.rec, 'shell_read', tool(worker, 'shell_read', args), (options) =>
      typeof options.output === 'string' && options.output.includes('tick3') ? undefined : 'tick3 not read within 10 s',
    );
  }
  return true;
}

async function work(worker: Worker): Promise<void> {
  for (let i = 0; ; i++) if (!(await runStep(worker, MIX[i % MIX.length]!, i))) return;
}

/** One HTTP session of the SDK's client; `end` sends DELETE (which ends its sandbox) and closes it. */
export interface StressSession {
  client: Client;
  end(): Promise<void>;
}

/** Initialize and the first call (which makes the session's sandbox), timed together as `create`. */
export async function openSession(
  url: string,
  headers: Record<string, string>,
  rec: Recorder,
): Promise<StressSession | undefined> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: 'sandbox-mcp-stress', version: '1.0.0' });
  const started = performance.now();
  try {
    await client.connect(transport);
    const first = (await client.callTool({ name: 'shell_exec', arguments: { command: 'true' } })) as ToolResult;
    if (first.isError) throw new Error(firstText(first));
    rec.record('create', performance.now() - started);
  } catch (e) {
    rec.fail('create', (e as Error).message);
    await client.close().catch(() => undefined);
    return undefined;
  }
  return {
    client,
    end: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close().catch(() => undefined);
    },
  };
}

/** `concurrency` workers on one session until the budget ends. */
export async function loadSession(
  session: StressSession,
  index: number,
  concurrency: number,
  rec: Recorder,
  budget: Budget,
): Promise<void> {
  const workers = Array.from({ length: concurrency }, (_, k) =>
    work({ client: session.client, rec, budget, folder: `stress/s${index}-w${k}`, needle: `needle-s${index}-w${k}` }),
  );
  await Promise.all(workers);
}
