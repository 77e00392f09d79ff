import type { IncomingMessage, ServerResponse } from 'node:http';
import { WORKSPACE_NAME, WORKSPACE_NAME_RULE } from '../config.js';
import { SandboxError } from '../errors.js';

/** A JSON-RPC id as the spec allows it; anything else in a body is answered with id null. */
export type RpcId = string | number | null;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/**
 * A JSON-RPC error answered by the HTTP layer itself. `id` is the request's own when its body was read:
 * the 2026-07-28 revision requires every error to carry it, and a 2025 client matches it too.
 */
export function rpcError(
  res: ServerResponse,
  status: number,
  message: string,
  opts: { headers?: Record<string, string>; id?: RpcId; code?: number } = {},
): void {
  sendJson(
    res,
    status,
    { jsonrpc: '2.0', error: { code: opts.code ?? -32000, message }, id: opts.id ?? null },
    opts.headers,
  );
}

/** The id of a JSON-RPC request body, when it has a valid one. */
export function requestId(body: unknown): RpcId {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const id = (body as { id?: unknown }).id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : null;
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return 'too-large';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The named workspace a request asks for: the Sandbox-Workspace header, or ?workspace= for clients that
 * can only be given a URL. Undefined: the server default (SANDBOX_WORKSPACE) or none.
 */
export function requestedWorkspace(
  header: string | string[] | null | undefined,
  url: string | undefined,
): string | undefined | SandboxError {
  const fromHeader = (Array.isArray(header) ? header[0] : header) || undefined;
  const fromQuery = new URL(url ?? '/', 'http://localhost').searchParams.get('workspace') || undefined;
  if (fromHeader && fromQuery && fromHeader !== fromQuery) {
    return new SandboxError(
      'INVALID_ARGUMENT',
      `two workspace names: ${JSON.stringify(fromHeader.slice(0, 80))} (Sandbox-Workspace header) and ${JSON.stringify(fromQuery.slice(0, 80))} (?workspace=)`,
      { hint: 'name the workspace in one place only' },
    );
  }
  const name = fromHeader ?? fromQuery;
  if (name === undefined) return undefined;
  if (WORKSPACE_NAME.test(name)) return name;
  return new SandboxError(
    'INVALID_ARGUMENT',
    `workspace name ${JSON.stringify(name.slice(0, 80))} (Sandbox-Workspace header or ?workspace=) is not valid`,
    { hint: `use ${WORKSPACE_NAME_RULE}` },
  );
}
