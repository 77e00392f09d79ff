/**
 * The in-sandbox agent (like E2B's envd or Daytona's toolbox): started by the local provider as the
 * sandbox's first process, it runs commands and file operations from inside the sandbox's namespaces.
 * It imports nothing but Node built-ins and its own folder, which is all that is mounted inside.
 */
import { AgentError, toErrorBody } from './errors.js';
import { runCommand, type RunningExec } from './exec.js';
import { Files } from './files.js';
import { CopyFiles } from './files-copy.js';
import { FrameReader, frameHeader, WithBytes, type Binary } from './frames.js';
import { startEgressRelay } from './egress-relay.js';
import { openPort } from './ports.js';
import { ProcessTable } from './processes.js';
import {
  MAX_STRING_BYTES,
  MAX_TRANSFER_BYTES,
  REQUEST_BIN_FIELDS,
  replyLineLimit,
  type AgentMessage,
  type AgentRequest,
} from './protocol.js';
import { enableLinearRegexFallback } from './regex-fallback.js';

// shell_read's `until` regexes run here (processes.ts keeps output in OutputLog): see regex-fallback.ts.
enableLinearRegexFallback();

const workdir = process.env.SANDBOX_WORKDIR ?? '/workspace';
/** The environment commands start from; the agent's own variables stay out of it. */
const baseEnv: Record<string, string> = JSON.parse(process.env.SANDBOX_BASE_ENV ?? '{}');
const bridgePath = process.env.SANDBOX_BRIDGE || undefined;
const ownPidNamespace = process.env.SANDBOX_OWN_PIDNS === '1';
const files = new Files(workdir, process.env.HOME);
const copyFiles = new CopyFiles((p) => files.resolve(p));
const processes = new ProcessTable();
const running = new Map<number, RunningExec>();
/** A file_write's content: at most one request of the server's (SANDBOX_MAX_BODY is at most 1 GiB). */
const MAX_REQUEST_BODY_BYTES = 1 << 30;

/** stdout is the agent's channel to the server (inside the sandbox; not the MCP stdio channel). */
function send(msg: AgentMessage, bin?: Binary, header = frameHeader(msg, bin)): void {
  process.stdout.write(header);
  if (bin) process.stdout.write(bin.data);
}

/**
 * A reply the server would refuse as over its line limit (and stop the sandbox for) goes out as an
 * error instead: listing a folder of millions of names must fail that call, not end the sandbox.
 */
function reply(req: AgentRequest, result: unknown): void {
  const bin = result instanceof WithBytes ? { field: `result.${result.field}`, data: result.data } : undefined;
  const msg: AgentMessage = {
    id: req.id,
    ok: true,
    result: result instanceof WithBytes ? result.value : (result ?? {}),
  };
  const limit = replyLineLimit(req.op === 'exec' ? Number(req.maxOutputBytes) || 0 : 0);
  const header = frameHeader(msg, bin);
  const bytes = Buffer.byteLength(header);
  if (bytes <= limit && (bin?.data.length ?? 0) <= MAX_TRANSFER_BYTES) return send(msg, bin, header);
  send({
    id: req.id,
    ok: false,
    error: {
      code: 'LIMIT_EXCEEDED',
      message: `the answer is too large to send (${bytes} bytes of metadata, ${bin?.data.length ?? 0} of content)`,
      hint: 'ask for less: a narrower path, a glob, fewer entries or a byte range',
    },
  });
}

function envFor(extra: unknown): Record<string, string> {
  return { ...baseEnv, ...((extra as Record<string, string> | undefined) ?? {}) };
}

type Handler = (req: AgentRequest) => unknown;
const handlers: Record<string, Handler> = {
  ping: () => ({ pid: process.pid }),
  exec: (agentRequest) => {
    const exec = runCommand(
      {
        command: String(agentRequest.command),
        cwd: files.resolve(agentRequest.cwd ?? workdir),
        env: envFor(agentRequest.env),
        timeoutMs: Number(agentRequest.timeoutMs),
        stdin: agentRequest.stdin as string | undefined,
        maxOutputBytes: Number(agentRequest.maxOutputBytes),
      },
      agentRequest.stream ? (stream, data) => send({ id: agentRequest.id, event: 'output', stream, data }) : undefined,
    );
    running.set(agentRequest.id, exec);
    return exec.done.finally(() => running.delete(agentRequest.id));
  },
  cancel: (agentRequest) => {
    running.get(Number(agentRequest.target))?.cancel();
    return {};
  },
  spawn: (agentRequest) =>
    processes.spawn({
      command: String(agentRequest.command),
      cwd: files.resolve(agentRequest.cwd ?? workdir),
      env: envFor(agentRequest.env),
      name: agentRequest.name as string | undefined,
    }),
  read: (r) => processes.read(r as never),
  write: (r) => processes.write(r as never),
  kill: (r) => processes.kill(r as never),
  killAll: () => {
    if (!ownPidNamespace)
      throw new AgentError(
        'UNSUPPORTED',
        'this sandbox has no process namespace of its own (SANDBOX_ISOLATION=none)',
        'stop processes one by one with shell_kill',
      );
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
  'fs.walk': (r) => copyFiles.walk(r as never),
  'fs.symlink': (r) => copyFiles.symlink(r as never),
  'fs.chmod': (r) => copyFiles.chmod(r as never),
  'fs.append': (r) => copyFiles.append(r as never),
  'fs.sha256': (r) => copyFiles.sha256(r as never),
};

async function handle(req: AgentRequest): Promise<void> {
  try {
    const handler = Object.hasOwn(handlers, req.op) ? handlers[req.op] : undefined;
    if (!handler) throw new Error(`unknown op ${String(req.op).slice(0, 40)}`);
    reply(req, await handler(req));
  } catch (err) {
    send({ id: req.id, ok: false, error: toErrorBody(err) });
  }
}

// The server is trusted, but a broken channel cannot be read on: the agent leaves, and the server
// reports the sandbox as ended.
const reader = new FrameReader(
  (req) => {
    void handle(req as AgentRequest);
  },
  (reason) => {
    process.stderr.write(`agent: unreadable request (${reason}); stopping\n`);
    processes.killBackground();
    process.exit(1);
  },
  { maxLineBytes: MAX_STRING_BYTES, maxBodyBytes: MAX_REQUEST_BODY_BYTES, binFields: REQUEST_BIN_FIELDS },
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
// Listening before "ready", so a first command already finds the proxy. (No top-level await: the agent
// ships as one CommonJS bundle, scripts/bundle-agent.mjs.)
async function announceReady(): Promise<void> {
  if (process.env.SANDBOX_EGRESS_SOCKET)
    await startEgressRelay(Number(process.env.SANDBOX_EGRESS_PORT), process.env.SANDBOX_EGRESS_SOCKET);
  send({ ready: true, pid: process.pid });
}
announceReady().catch((error: unknown) => {
  process.stderr.write(`agent: could not start: ${(error as Error).message}\n`);
  process.exit(1);
});
