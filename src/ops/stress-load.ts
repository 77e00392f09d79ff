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

  record(op: Operation, ms: number): void {
    const list = this.samples.get(op) ?? [];
    list.push(ms);
    this.samples.set(op, list);
  }

  fail(op: Operation, message: string): void {
    this.failed++;
    const key = `${op}: ${message.replace(/\s+/g, ' ').slice(0, 200)}`;
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

function firstText(r: ToolResult): string {
  return r.content?.find((c) => c.type === 'text')?.text ?? '(no text)';
}

/** One timed call; resolves to its structured result, or undefined when it failed (recorded). */
async function timed(
  rec: Recorder,
  op: Operation,
  call: () => Promise<ToolResult>,
  check: (out: Record<string, unknown>) => string | undefined,
): Promise<Record<string, unknown> | undefined> {
  const started = performance.now();
  try {
    const r = await call();
    const out = r.structuredContent ?? {};
    const problem = r.isError ? firstText(r) : check(out);
    if (problem) {
      rec.fail(op, problem);
      return undefined;
    }
    rec.record(op, performance.now() - started);
    return out;
  } catch (e) {
    rec.fail(op, (e as Error).message);
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

const tool = (w: Worker, name: string, args: Record<string, unknown>) => () =>
  w.client.callTool({ name, arguments: args }) as Promise<ToolResult>;

/** One step of the mix; false once the budget is spent. */
async function runStep(w: Worker, step: Step, iteration: number): Promise<boolean> {
  if (!w.budget.take()) return false;
  if (step === 'exec') {
    await timed(w.rec, 'shell_exec', tool(w, 'shell_exec', { command: 'echo $((6 * 7)); ls /tmp >/dev/null' }), (o) =>
      o.exitCode === 0 && o.stdout === '42\n' ? undefined : `unexpected result: exit ${String(o.exitCode)}`,
    );
  } else if (step === 'search') {
    await timed(w.rec, 'file_search', tool(w, 'file_search', { pattern: w.needle, path: w.folder }), (o) =>
      Array.isArray(o.matches) && o.matches.length > 0 ? undefined : `no match for ${w.needle}`,
    );
  } else if (step === 'write-read') {
    const path = `${w.folder}/note-${iteration % 4}.txt`;
    const lines =
      randomBytes(1536)
        .toString('base64')
        .match(/.{1,64}/g) ?? [];
    const content = `${[...lines, w.needle].join('\n')}\n`;
    const written = await timed(w.rec, 'file_write', tool(w, 'file_write', { path, content }), () => undefined);
    if (!written || !w.budget.take()) return Boolean(written);
    await timed(w.rec, 'file_read', tool(w, 'file_read', { path }), (o) =>
      o.content === content ? undefined : 'file read back differs from what was written',
    );
  } else {
    const started = await timed(
      w.rec,
      'shell_start',
      tool(w, 'shell_start', { command: 'for i in 1 2 3; do echo tick$i; sleep 0.05; done' }),
      (o) => (typeof o.processId === 'string' ? undefined : 'no processId'),
    );
    if (!started || !w.budget.take()) return Boolean(started);
    const args = { processId: started.processId, wait_s: 10, until: 'tick3' };
    await timed(w.rec, 'shell_read', tool(w, 'shell_read', args), (o) =>
      typeof o.output === 'string' && o.output.includes('tick3') ? undefined : 'tick3 not read within 10 s',
    );
  }
  return true;
}

async function work(w: Worker): Promise<void> {
  for (let i = 0; ; i++) if (!(await runStep(w, MIX[i % MIX.length]!, i))) return;
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
