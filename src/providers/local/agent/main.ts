/**
 * The in-sandbox agent (like E2B's envd or Daytona's toolbox): started by the local provider as the
 * sandbox's first process, it runs commands and file operations from inside the sandbox's namespaces.
 * It imports nothing but Node built-ins and its own folder, which is all that is mounted inside.
 */
import { AgentError, toErrorBody } from './errors.js';
import { runCommand, type RunningExec } from './exec.js';
import { Files } from './files.js';
import { FrameReader, frameHeader, WithBytes, type Binary } from './frames.js';
import { openPort } from './ports.js';
import { ProcessTable } from './processes.js';
import type { AgentMessage, AgentRequest } from './protocol.js';

const workdir = process.env.SANDBOX_WORKDIR ?? '/workspace';
/** The environment commands start from; the agent's own variables stay out of it. */
const baseEnv: Record<string, string> = JSON.parse(process.env.SANDBOX_BASE_ENV ?? '{}');
const bridgePath = process.env.SANDBOX_BRIDGE || undefined;
const ownPidNamespace = process.env.SANDBOX_OWN_PIDNS === '1';
const files = new Files(workdir, process.env.HOME);
const processes = new ProcessTable();
const running = new Map<number, RunningExec>();

/** stdout is the agent's channel to the server (inside the sandbox; not the MCP stdio channel). */
function send(msg: AgentMessage, bin?: Binary): void {
  process.stdout.write(frameHeader(msg, bin));
  if (bin) process.stdout.write(bin.data);
}

function envFor(extra: unknown): Record<string, string> {
  return { ...baseEnv, ...((extra as Record<string, string> | undefined) ?? {}) };
}

type Handler = (req: AgentRequest) => unknown;
const handlers: Record<string, Handler> = {
  ping: () => ({ pid: process.pid }),
  exec: (r) => {
    const exec = runCommand(
      {
        command: String(r.command), cwd: files.resolve(r.cwd ?? workdir), env: envFor(r.env),
        timeoutMs: Number(r.timeoutMs), stdin: r.stdin as string | undefined, maxOutputBytes: Number(r.maxOutputBytes),
      },
      r.stream ? (stream, data) => send({ id: r.id, event: 'output', stream, data }) : undefined,
    );
    running.set(r.id, exec);
    return exec.done.finally(() => running.delete(r.id));
  },
  cancel: (r) => { running.get(Number(r.target))?.cancel(); return {}; },
  spawn: (r) => processes.spawn({ command: String(r.command), cwd: files.resolve(r.cwd ?? workdir), env: envFor(r.env), name: r.name as string | undefined }),
  read: (r) => processes.read(r as never),
  write: (r) => processes.write(r as never),
  kill: (r) => processes.kill(r as never),
  killAll: () => {
    if (!ownPidNamespace) throw new AgentError('UNSUPPORTED', 'this sandbox has no process namespace of its own (SANDBOX_ISOLATION=none)', 'stop processes one by one with shell_kill');
    return processes.killEverything();
  },
  list: () => processes.list(),
  'port.open': (r) => openPort(r as never, bridgePath),
  'fs.read': (r) => files.read(r as never),
  'fs.write': (r) => files.write(r as never),
  'fs.stat': (r) => files.stat(r as never),
  'fs.list': (r) => files.list(r as never),
  'fs.mkdir': (r) => files.mkdir(r as never),
  'fs.remove': (r) => files.remove(r as never),
  'fs.rename': (r) => files.rename(r as never),
  'fs.readText': (r) => files.readText(r as never),
  'fs.tree': (r) => files.tree(r as never),
  'fs.search': (r) => files.search(r as never),
};

async function handle(req: AgentRequest): Promise<void> {
  try {
    const handler = handlers[req.op];
    if (!handler) throw new Error(`unknown op ${req.op}`);
    const result = await handler(req);
    if (result instanceof WithBytes) send({ id: req.id, ok: true, result: result.value }, { field: `result.${result.field}`, data: result.data });
    else send({ id: req.id, ok: true, result: result ?? {} });
  } catch (err) {
    send({ id: req.id, ok: false, error: toErrorBody(err) });
  }
}

const reader = new FrameReader(
  (req) => { void handle(req as AgentRequest); },
  () => process.stderr.write('agent: unparsable request ignored\n'),
);
process.stdin.on('data', (chunk: Buffer) => reader.push(chunk));
// The server closing our stdin means the sandbox is over.
process.stdin.on('end', () => {
  processes.killBackground();
  process.exit(0);
});
process.on('uncaughtException', (err) => {
  process.stderr.write(`agent: ${err.stack ?? err}\n`);
});
send({ ready: true, pid: process.pid });
