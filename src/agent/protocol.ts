import { constants } from 'node:buffer';

/**
 * Wire format between the server and the agent that runs inside each local sandbox: one JSON object
 * per line on the agent's stdin (requests) and stdout (responses, events); file contents follow a
 * line as raw bytes (see frames.ts). The agent announces itself with a `ready` line before reading
 * any request.
 */
export interface AgentRequest {
  id: number;
  op: string;
  [arg: string]: unknown;
}

export interface AgentErrorBody {
  code: string;
  message: string;
  hint?: string;
}

export type AgentMessage =
  | { ready: true; pid: number }
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: AgentErrorBody }
  | { id: number; event: 'output'; stream: 'stdout' | 'stderr'; data: string };

/**
 * Largest raw body one frame carries, either way: the most file content one read moves (the largest
 * SANDBOX_MAX_READ, and images are far smaller). A whole-file read of a bigger file is refused, ranges
 * are clamped to it, so the server never buffers more than this for one body.
 */
export const MAX_TRANSFER_BYTES = 64 << 20;

/** `$bin` targets: requests carry `data` (fs.write); replies carry `result.data` (fs.read), `result.text` (fs.readText). */
export const REQUEST_BIN_FIELDS = ['data'] as const;
export const REPLY_BIN_FIELDS = ['result.data', 'result.text'] as const;

/**
 * Longest reply line the server accepts from an agent. The largest legitimate line is a shell_exec
 * result: up to maxOutputBytes of output, which JSON may escape to 6 bytes a byte (\u001b), so 8x
 * plus a floor for listings and search results (the agent refuses to send a longer one).
 */
export function replyLineLimit(maxOutputBytes: number): number {
  return Math.min(32 * 1024 * 1024 + 8 * Math.max(0, maxOutputBytes), MAX_STRING_BYTES);
}

/** V8's longest string: a longer line could not even be decoded. */
export const MAX_STRING_BYTES = constants.MAX_STRING_LENGTH;

/** Where the server mounts the agent and its runtime inside the sandbox. */
export const AGENT_MOUNT = '/.sandbox-mcp';

/**
 * The port bridge: the server listens on a Unix socket in the sandbox's `run` folder, mounted
 * read-only here (Unix sockets cross network namespaces; read-only so the sandbox cannot swap it).
 */
export const RUN_MOUNT = `${AGENT_MOUNT}/run`;
export const BRIDGE_SOCKET = 'bridge.sock';
