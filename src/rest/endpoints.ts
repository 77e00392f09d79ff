import { z } from 'zod';
import { defineRoute, type AnyRoute } from './routes.js';
import type { SandboxOps } from './sandboxes.js';
import {
  contentQuery,
  createBody,
  execBody,
  execResult,
  listQuery,
  listResult,
  sandboxBody,
  writeResult,
} from './schemas.js';

/** Statuses every route on a sandbox id may answer besides its own (bad id, token, gone, busy). */
const ON_A_SANDBOX = [400, 401, 403, 404, 410, 503];

/** The REST API's routes: what they take, what they answer, and the operation each runs. */
export function sandboxRoutes(ops: SandboxOps): AnyRoute[] {
  return [...lifecycleRoutes(ops), ...workRoutes(ops)];
}

/** Creating, describing and deleting a sandbox. */
function lifecycleRoutes(ops: SandboxOps): AnyRoute[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/sandboxes',
      operationId: 'createSandbox',
      summary: 'Create a sandbox (MCP sandbox_create)',
      description:
        "Starts a sandbox of its own, or with `workspace` a handle to that named workspace's shared sandbox. The id is an MCP sandbox handle.",
      body: createBody,
      ok: { status: 201, description: 'The sandbox, started', schema: sandboxBody },
      errors: [400, 401, 403, 413, 415, 429, 503],
      run: async (routeContext) => {
        const view = await ops.create(routeContext.caller, routeContext.body);
        return { status: 201, json: view, headers: { location: `/api/sandboxes/${view.id}` } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/sandboxes/{id}',
      operationId: 'getSandbox',
      summary: 'Describe a sandbox',
      ok: { status: 200, description: 'The sandbox', schema: sandboxBody },
      errors: ON_A_SANDBOX,
      run: async (c) => ({ status: 200, json: await ops.get(c.caller, c.id) }),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/sandboxes/{id}',
      operationId: 'deleteSandbox',
      summary: 'Delete a sandbox (MCP sandbox_delete)',
      description:
        "Kills the sandbox with its files and processes; a named workspace's sandbox only loses this id, its files live on.",
      ok: { status: 204, description: 'Deleted' },
      errors: ON_A_SANDBOX,
      run: async (routeContext) => {
        await ops.delete(routeContext.caller, routeContext.id);
        return { status: 204 };
      },
    }),
  ];
}

/** What is done in a sandbox: a command, and its files. */
function workRoutes(ops: SandboxOps): AnyRoute[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/sandboxes/{id}/exec',
      operationId: 'exec',
      summary: 'Run a shell command and wait for it (MCP shell_exec)',
      description: 'A non-zero exit code is a result, not an error; a timeout kills the command and its children.',
      body: execBody,
      ok: { status: 200, description: 'How the command ended, and its output', schema: execResult },
      errors: [...ON_A_SANDBOX, 413, 415],
      run: async (c) => ({ status: 200, json: await ops.exec(c.caller, c.id, c.body, c.signal) }),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/sandboxes/{id}/files',
      operationId: 'listFiles',
      summary: 'List a folder (MCP file_list, hidden names included)',
      query: listQuery,
      ok: { status: 200, description: "The folder's entries", schema: listResult },
      errors: ON_A_SANDBOX,
      run: async (c) => ({ status: 200, json: await ops.list(c.caller, c.id, c.query.path, c.signal) }),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/sandboxes/{id}/files/content',
      operationId: 'readFile',
      summary: "A file's raw bytes",
      description:
        'Content type from the extension, else sniffed (image, UTF-8 text, else application/octet-stream). Paths resolve inside the sandbox as for the file tools.',
      query: contentQuery,
      ok: { status: 200, description: 'The bytes', rawType: '*/*' },
      errors: [...ON_A_SANDBOX, 429],
      run: async (c) => ({ status: 200, raw: await ops.read(c.caller, c.id, c.query.path) }),
    }),
    defineRoute({
      method: 'PUT',
      path: '/api/sandboxes/{id}/files/content',
      operationId: 'writeFile',
      summary: 'Create or replace a file with the raw body (atomic, parents created)',
      description: 'At most SANDBOX_MAX_BODY bytes (413 beyond). An existing file keeps its mode; new files get 0644.',
      query: contentQuery,
      body: 'raw',
      ok: { status: 200, description: 'The file written', schema: writeResult },
      errors: [...ON_A_SANDBOX, 413],
      run: async (c) => ({ status: 200, json: await ops.write(c.caller, c.id, c.query.path, c.body) }),
    }),
  ];
}

/** GET /api/openapi.json, served from the same table (built at the first request: most servers never serve it). */
export function documentRoute(document: () => Promise<unknown>): AnyRoute {
  return defineRoute({
    method: 'GET',
    path: '/api/openapi.json',
    operationId: 'openapi',
    summary: 'This document (OpenAPI 3.1)',
    ok: { status: 200, description: 'The OpenAPI document', schema: z.record(z.string(), z.unknown()) },
    errors: [401],
    run: async () => ({ status: 200, json: await document() }),
  });
}
