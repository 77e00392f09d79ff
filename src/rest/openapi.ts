import { STATUS_CODES } from 'node:http';
import type {
  ZodOpenApiOperationObject,
  ZodOpenApiPathsObject,
  ZodOpenApiResponseObject,
  ZodOpenApiResponsesObject,
} from 'zod-openapi';
import { SERVER_VERSION } from '../mcp/server.js';
import type { AnyRoute } from './routes.js';
import { errorBody, idParams } from './schemas.js';

/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table and its zod schemas by
 * zod-openapi (no dependencies of its own; it renders through zod 4's own JSON Schema conversion, and
 * adds what that lacks: parameters from the query and path objects, shared components, input/output
 * variants). Loaded at the first request for the document only.
 */
/** Raw bytes, as JSON Schema 2020-12 (OpenAPI 3.1) spells a binary body. */
const BYTES = { type: 'string' as const, contentMediaType: 'application/octet-stream' };

export async function openApiDocument(routes: AnyRoute[]): Promise<unknown> {
  const { createDocument } = await import('zod-openapi');
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    const item = paths[route.path]! as Record<string, ZodOpenApiOperationObject>;
    item[route.method.toLowerCase()] = operation(route);
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'sandbox-mcp REST API',
      version: SERVER_VERSION,
      description:
        'Sandboxes over plain HTTP, beside the MCP endpoint /mcp and under the same bearer token. A sandbox id is an MCP sandbox handle: one made here works as `sandbox` in MCP 2026-07-28 tool calls, and one from sandbox_create works here.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  });
}

function operation(route: AnyRoute): ZodOpenApiOperationObject {
  const responses: Record<string, ZodOpenApiResponseObject> = {
    [String(route.ok.status)]: {
      description: route.ok.description,
      ...(route.ok.schema && { content: { 'application/json': { schema: route.ok.schema } } }),
      ...(route.ok.rawType && {
        content: { [route.ok.rawType]: { schema: BYTES } },
      }),
    },
  };
  for (const status of route.errors)
    responses[String(status)] = {
      description: STATUS_CODES[status] ?? 'Error',
      content: { 'application/json': { schema: errorBody } },
    };
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description && { description: route.description }),
    requestParams: {
      ...(route.path.includes('{id}') && { path: idParams }),
      ...(route.query && { query: route.query as typeof idParams }),
    },
    ...(route.body === 'raw' && {
      requestBody: {
        required: true,
        content: {
          'application/octet-stream': { schema: BYTES },
        },
      },
    }),
    ...(route.body &&
      route.body !== 'raw' && {
        // Optional where an empty object is a valid body: an empty request body stands for one.
        requestBody: {
          required: !route.body.safeParse({}).success,
          content: { 'application/json': { schema: route.body } },
        },
      }),
    responses: responses as ZodOpenApiResponsesObject,
  };
}
