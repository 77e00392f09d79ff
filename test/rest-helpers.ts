import { expect } from 'vitest';

export interface ApiAnswer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  /** The parsed body when it is JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies have many shapes; each test checks its fields
  json: any;
}

export interface ApiRequest {
  method?: string;
  /** Sent as JSON with Content-Type: application/json. */
  json?: unknown;
  /** Sent as is. */
  body?: Buffer | string;
  headers?: Record<string, string>;
  /** Overrides the client's token; null sends none. */
  token?: string | null;
}

/** The REST API of a server started by startHttpServer, over Node's own fetch. */
export function restClient(mcpUrl: string, token?: string) {
  const origin = new URL(mcpUrl).origin;
  return {
    origin,
    async call(path: string, r: ApiRequest = {}): Promise<ApiAnswer> {
      const bearer = r.token === undefined ? token : r.token;
      const res = await fetch(`${origin}${path}`, {
        method: r.method ?? (r.json !== undefined || r.body !== undefined ? 'POST' : 'GET'),
        headers: {
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          ...(r.json !== undefined ? { 'content-type': 'application/json' } : {}),
          ...r.headers,
        },
        body: r.json !== undefined ? JSON.stringify(r.json) : r.body,
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      let json: unknown;
      if (res.headers.get('content-type')?.startsWith('application/json')) json = JSON.parse(bytes.toString('utf8'));
      return { status: res.status, headers: res.headers, bytes, json };
    },
    /** POST /api/sandboxes, asserting the 201; returns the sandbox. */
    async create(json: Record<string, unknown> = {}) {
      const r = await this.call('/api/sandboxes', { json });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      return r.json as { id: string; workspace: string | null; status: string; previewHost: string | null };
    },
    async exec(id: string, command: string, extra: Record<string, unknown> = {}) {
      const r = await this.call(`/api/sandboxes/${id}/exec`, { json: { command, ...extra } });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      return r.json as {
        exitCode: number | null;
        stdout: string;
        stderr: string;
        timedOut: boolean;
        durationMs: number;
      };
    },
    put(id: string, path: string, body: Buffer | string) {
      return this.call(`/api/sandboxes/${id}/files/content?path=${encodeURIComponent(path)}`, { method: 'PUT', body });
    },
    get(id: string, path: string) {
      return this.call(`/api/sandboxes/${id}/files/content?path=${encodeURIComponent(path)}`);
    },
  };
}

/** An error answer: the status, the JSON shape, the code, a hint, and never a stack trace. */
export function expectError(r: ApiAnswer, status: number, code: string, message?: RegExp): void {
  expect(r.status, JSON.stringify(r.json)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  expect(r.json.error.code).toBe(code);
  expect(typeof r.json.error.message).toBe('string');
  if (message) expect(r.json.error.message).toMatch(message);
  expect(r.bytes.toString()).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+/);
}
