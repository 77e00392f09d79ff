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

/** Where the server mounts the agent and its runtime inside the sandbox. */
export const AGENT_MOUNT = '/.sandbox-mcp';

/**
 * The port bridge: the server listens on a Unix socket in the sandbox's `run` folder, mounted
 * read-only here (Unix sockets cross network namespaces; read-only so the sandbox cannot swap it).
 */
export const RUN_MOUNT = `${AGENT_MOUNT}/run`;
export const BRIDGE_SOCKET = 'bridge.sock';
