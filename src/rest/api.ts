import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { SandboxErrorCode } from '../errors.js';
import { requestGuards, type RequestGuards } from '../mcp/guards.js';
import type { MountedRoute } from '../mcp/http.js';
import { readBody } from '../mcp/http-io.js';
import { redactedHostPaths } from '../mcp/server.js';
import { STATELESS_SCOPE } from '../sessions/handles.js';
import { documentRoute, sandboxRoutes } from './endpoints.js';
import { invalid, RestError, sendError, toHttpError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { matchPath, type AnyRoute, type Reply } from './routes.js';
import { SandboxOps, type SandboxOpsDeps } from './sandboxes.js';

const NO_QUERY = z.strictObject({});
const REFUSAL_CODES: Record<number, SandboxErrorCode> = { 401: 'AUTH', 403: 'PERMISSION_DENIED', 503: 'UNAVAILABLE' };
const REFUSAL_HINTS: Record<number, string> = {
  401: 'send Authorization: Bearer <SANDBOX_MCP_AUTH_TOKEN>, the token /mcp takes',
  503: 'retry against a new instance',
};

/**
 * The REST API (/api/...), mounted beside /mcp: the same listener, Host/Origin guards and bearer
 * token, and the same sandbox handles; `mcp/` knows it only as a mounted route.
 */
export function restApi(deps: SandboxOpsDeps): MountedRoute {
  const guards = requestGuards(deps.config);
  const hostPaths = redactedHostPaths(deps.config);
  let document: Promise<unknown> | undefined;
  const routes: AnyRoute[] = [
    ...sandboxRoutes(new SandboxOps(deps)),
    documentRoute(() => (document ??= openApiDocument(routes))),
  ];
  return {
    path: '/api',
    prefix: true,
    authenticated: true,
    refuse: (res, status, message, headers) =>
      sendError(
        res,
        status,
        new RestError(status, REFUSAL_CODES[status] ?? 'PERMISSION_DENIED', message, REFUSAL_HINTS[status]),
        headers,
      ),
    preflight: async (req, res) => {
      preflight(guards, routes, req, res);
      return true;
    },
    handle: async (req, res) => {
      const started = performance.now();
      const cors = corsHeaders(guards, req);
      try {
        send(res, await dispatch({ guards, routes, maxBody: deps.config.maxBodyBytes }, req, res), cors);
      } catch (err) {
        const failed = toHttpError(err, deps.log, hostPaths);
        sendError(res, failed.status, failed.error, { ...cors, ...failed.headers });
      }
      deps.log.debug(
        { method: req.method, status: res.statusCode, ms: Math.round(performance.now() - started) },
        'REST',
      );
      return true;
    },
  };
}

interface Api {
  guards: RequestGuards;
  routes: AnyRoute[];
  /** SANDBOX_MAX_BODY: the same cap as a /mcp request's. */
  maxBody: number;
}

async function dispatch({ guards, routes, maxBody }: Api, req: IncomingMessage, res: ServerResponse): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const match = matchPath(routes, url.pathname);
  if (!match)
    throw new RestError(404, 'NOT_FOUND', `no API route ${url.pathname}`, 'GET /api/openapi.json lists the routes');
  // Only the request line's method counts: no X-HTTP-Method-Override, no ?_method=.
  const route = match.routes.find((r) => r.method === req.method);
  if (!route) {
    const allow = match.routes.map((r) => r.method).join(', ');
    throw new RestError(405, 'UNSUPPORTED', `${req.method} is not allowed on ${url.pathname}`, `use ${allow}`, {
      allow,
    });
  }
  const aborted = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) aborted.abort();
  });
  return route.run({
    req,
    caller: { principal: guards.principal(req.headers), scope: STATELESS_SCOPE },
    id: decodeSegment(match.id),
    query: parseQuery(route, url),
    body: await parseBody(route, req, maxBody),
    signal: aborted.signal,
  });
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RestError(400, 'INVALID_ARGUMENT', 'the sandbox id in the path is not valid URL encoding');
  }
}

/** The query as one value per name: a name given twice is refused (which one would count is a guess). */
function parseQuery(route: AnyRoute, url: URL): unknown {
  const values = new Map<string, string>();
  for (const [name, value] of url.searchParams) {
    if (values.has(name))
      throw new RestError(
        400,
        'INVALID_ARGUMENT',
        `query parameter ${JSON.stringify(name)} is given twice`,
        'give it once',
      );
    values.set(name, value);
  }
  const parsed = (route.query ?? NO_QUERY).safeParse(Object.fromEntries(values));
  if (!parsed.success) throw invalid('the query', parsed.error);
  return parsed.data;
}

async function parseBody(route: AnyRoute, req: IncomingMessage, limit: number): Promise<unknown> {
  if (!route.body) return undefined;
  // A JSON body must say so: a browser can send text/plain cross-origin without asking (no preflight).
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (route.body !== 'raw' && type !== 'application/json')
    throw new RestError(
      415,
      'INVALID_ARGUMENT',
      'the request body must be JSON',
      'send Content-Type: application/json',
    );
  const raw = await readBody(req, limit).catch(() => {
    // The client went away mid-body, or sent it too slowly (SANDBOX_REQUEST_TIMEOUT): nothing to answer.
    throw new RestError(400, 'INVALID_ARGUMENT', 'the request body was cut off', 'send the whole body');
  });
  if (raw === 'too-large')
    throw new RestError(
      413,
      'LIMIT_EXCEEDED',
      `request body larger than ${limit} bytes`,
      'send less, or raise SANDBOX_MAX_BODY on the server',
      { connection: 'close' },
    );
  if (route.body === 'raw') return raw;
  let json: unknown = {};
  try {
    if (raw.length) json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RestError(400, 'INVALID_ARGUMENT', 'the request body is not valid JSON', 'send a JSON object');
  }
  const parsed = route.body.safeParse(json);
  if (!parsed.success) throw invalid('the request body', parsed.error);
  return parsed.data;
}

function send(res: ServerResponse, reply: Reply, cors: Record<string, string>): void {
  const headers = { ...cors, 'cache-control': 'no-store', ...reply.headers };
  if (reply.raw) {
    res.writeHead(reply.status, {
      ...headers,
      'content-type': reply.raw.contentType,
      'content-length': String(reply.raw.data.length),
      // Sandbox content is untrusted: never run as a page of this origin (where /api and /mcp live).
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
    });
    res.end(reply.raw.data);
  } else if (reply.json === undefined) res.writeHead(reply.status, headers).end();
  else res.writeHead(reply.status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(reply.json));
}

function corsHeaders(guards: RequestGuards, req: IncomingMessage): Record<string, string> {
  const origin = guards.corsOrigin(req.headers);
  return origin
    ? { 'access-control-allow-origin': origin, 'access-control-expose-headers': 'location', vary: 'origin' }
    : {};
}

/** CORS preflight: granted to the origins the operator listed only, never `*`. */
function preflight(guards: RequestGuards, routes: AnyRoute[], req: IncomingMessage, res: ServerResponse): void {
  const match = matchPath(routes, new URL(req.url ?? '/', 'http://localhost').pathname);
  const allow = match?.routes.map((r) => r.method).join(', ');
  const origin = req.headers.origin;
  if (!allow)
    return sendError(
      res,
      404,
      new RestError(404, 'NOT_FOUND', 'no API route here', 'GET /api/openapi.json lists the routes'),
      {},
    );
  if (!origin) return void res.writeHead(204, { allow }).end();
  const granted = guards.corsOrigin(req.headers);
  if (!granted)
    return sendError(
      res,
      403,
      new RestError(
        403,
        'PERMISSION_DENIED',
        `Origin ${origin} is not granted cross-origin access to the REST API`,
        'list it in SANDBOX_ALLOWED_ORIGINS (loopback origins pass the Origin check but get no CORS grant unless listed)',
      ),
      {},
    );
  res
    .writeHead(204, {
      'access-control-allow-origin': granted,
      'access-control-allow-methods': allow,
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-max-age': '600',
      vary: 'origin',
    })
    .end();
}
