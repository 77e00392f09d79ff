import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import type { Caller } from '../sessions/handles.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** What a route answers: JSON, raw bytes with their type, or nothing (204). */
export interface Reply {
  status: number;
  json?: unknown;
  raw?: { data: Buffer; contentType: string };
  headers?: Record<string, string>;
}

export interface RouteContext<Query, Body> {
  req: IncomingMessage;
  /** The bearer token's digest and the stateless scope: the same caller a 2026-07-28 MCP request is. */
  caller: Caller;
  /** The `{id}` path segment, decoded; '' on routes without one. */
  id: string;
  query: Query;
  body: Body;
  /** Aborted when the client goes away before its answer. */
  signal: AbortSignal;
}

/**
 * One REST route: the dispatcher validates query and body with its schemas, and the OpenAPI document
 * is generated from the same ones, so the document cannot promise what the route does not check.
 */
export interface RestRoute<Q extends z.ZodType = z.ZodType, B extends z.ZodType | 'raw' | undefined = undefined> {
  method: HttpMethod;
  /** With `{id}` for the sandbox id segment. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  query?: Q;
  /** A JSON body validated by this schema, or `raw` bytes. */
  body?: B;
  ok: { status: number; description: string; schema?: z.ZodType; rawType?: string };
  /** Error statuses this route may answer, for the document. */
  errors: number[];
  run(
    ctx: RouteContext<z.output<Q>, B extends z.ZodType ? z.output<B> : B extends 'raw' ? Buffer : undefined>,
  ): Promise<Reply>;
}

export type AnyRoute = RestRoute<z.ZodType, z.ZodType | 'raw' | undefined>;

/** Keeps each route's own types while collecting them in one table (as defineTool does for tools). */
export function defineRoute<Q extends z.ZodType, B extends z.ZodType | 'raw' | undefined = undefined>(
  restRoute: RestRoute<Q, B>,
): AnyRoute {
  return restRoute as unknown as AnyRoute;
}

/** The route for a path and the `{id}` it names; undefined when no route has this path. */
export function matchPath(routes: AnyRoute[], pathname: string): { routes: AnyRoute[]; id: string } | undefined {
  const got = pathname.split('/');
  let id = '';
  const found = routes.filter((anyRoute) => {
    const want = anyRoute.path.split('/');
    if (want.length !== got.length) return false;
    return want.every((segment, i) => (segment === '{id}' ? got[i] !== '' : segment === got[i]));
  });
  if (!found.length) return undefined;
  const idAt = found[0]!.path.split('/').indexOf('{id}');
  if (idAt >= 0) id = got[idAt]!;
  return { routes: found, id };
}
