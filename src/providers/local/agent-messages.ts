import { z } from 'zod';
import type { SandboxErrorCode } from '../../errors.js';

/**
 * What the server accepts from a sandbox's agent, as schemas: the envelope of every message, and the
 * result of each request by its op. The agent runs inside the sandbox, so whatever it sends may be
 * forged; a message that does not fit is a protocol violation (see AgentConnection). zod objects keep
 * only the keys they name, so a parsed message holds no `__proto__` or other stray keys.
 */

const requestId = z.number().int().positive();
/** Error texts end up in tool results; a few kilobytes say all an honest agent ever says. */
const errorText = z.string().max(16 * 1024);

export const agentEnvelope = z.union([
  z.object({ ready: z.literal(true), pid: z.number().int() }),
  z.object({ id: requestId, event: z.literal('output'), stream: z.enum(['stdout', 'stderr']), data: z.string() }),
  z.object({ id: requestId, ok: z.literal(true), result: z.unknown() }),
  z.object({
    id: requestId,
    ok: z.literal(false),
    error: z.object({ code: z.string().max(64), message: errorText, hint: errorText.optional() }),
  }),
]);
export type AgentEnvelope = z.output<typeof agentEnvelope>;

const SANDBOX_ERROR_CODES: ReadonlySet<string> = new Set<SandboxErrorCode>([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'TIMEOUT',
  'LIMIT_EXCEEDED',
  'UNAVAILABLE',
  'AUTH',
  'SANDBOX_GONE',
  'UNSUPPORTED',
  'INTERNAL',
]);

/** An agent's error code, if it is one of ours; anything else is reported as INTERNAL. */
export function knownErrorCode(code: string): SandboxErrorCode {
  return SANDBOX_ERROR_CODES.has(code) ? (code as SandboxErrorCode) : 'INTERNAL';
}

const count = z.number().int().nonnegative();
const nullableInt = z.number().int().nullable();
const fileType = z.enum(['file', 'directory', 'symlink', 'other']);
const fileKind = z.enum(['text', 'image', 'binary']);
const bytes = z.instanceof(Buffer);
const empty = z.object({});

const processInfo = z.object({
  processId: z.string(),
  name: z.string().optional(),
  command: z.string(),
  pid: z.number().int(),
  running: z.boolean(),
  exitCode: nullableInt,
  signal: z.string().nullable(),
  startedAt: z.string(),
  outputBytes: count,
});

const fileStat = z.object({
  path: z.string(),
  type: fileType,
  size: count,
  mode: count,
  mtime: z.string(),
  atime: z.string(),
  ctime: z.string(),
  birthtime: z.string(),
  linkTarget: z.string().optional(),
  kind: fileKind.optional(),
  mimeType: z.string().optional(),
});

/** Result schema of each op the server sends. */
export const agentResults = {
  ping: z.object({ pid: z.number().int() }),
  exec: z.object({
    exitCode: nullableInt,
    signal: z.string().nullable(),
    stdout: z.string(),
    stderr: z.string(),
    durationMs: z.number().nonnegative(),
    timedOut: z.boolean(),
    cancelled: z.boolean(),
    truncated: z.boolean(),
    droppedBytes: count,
  }),
  cancel: empty,
  spawn: processInfo,
  read: z.object({
    output: z.string(),
    cursor: count,
    running: z.boolean(),
    exitCode: nullableInt,
    signal: z.string().nullable(),
    droppedBytes: count,
    matched: z.boolean(),
  }),
  write: empty,
  kill: processInfo,
  killAll: z.object({ killed: count }),
  list: z.array(processInfo),
  'port.open': empty,
  'fs.read': z.object({ data: bytes, size: count }),
  'fs.write': fileStat,
  'fs.stat': fileStat,
  'fs.list': z.array(z.object({ name: z.string(), type: fileType, size: count, mtime: z.string() })),
  'fs.mkdir': empty,
  'fs.remove': empty,
  'fs.rename': empty,
  'fs.readText': z.object({
    path: z.string(),
    size: count,
    kind: fileKind,
    mimeType: z.string().optional(),
    text: bytes,
    startLine: z.number().int(),
    endLine: z.number().int(),
    totalLines: count,
    truncated: z.boolean(),
  }),
  'fs.tree': z.object({
    root: z.string(),
    truncated: z.boolean(),
    hiddenCount: count,
    entries: z.array(
      z.object({
        path: z.string(),
        type: fileType,
        size: count,
        mtime: z.string(),
        linkTarget: z.string().optional(),
        skipped: z.boolean().optional(),
      }),
    ),
  }),
  'fs.search': z.object({
    matches: z.array(z.object({ path: z.string(), line: count, text: z.string() })),
    truncated: z.boolean(),
    filesSearched: count,
    binarySkipped: count,
    largeSkipped: count,
    timedOut: z.boolean(),
  }),
  'fs.walk': z.array(
    z.object({
      path: z.string(),
      type: fileType,
      size: count,
      mode: count,
      mtime: z.string(),
      linkTarget: z.string().optional(),
    }),
  ),
  'fs.symlink': empty,
  'fs.chmod': empty,
  'fs.append': empty,
  'fs.sha256': z.array(z.string().regex(/^[0-9a-f]{64}$/)),
} satisfies Record<string, z.ZodType>;

export type AgentOp = keyof typeof agentResults;
export type AgentResult<O extends AgentOp> = z.output<(typeof agentResults)[O]>;
