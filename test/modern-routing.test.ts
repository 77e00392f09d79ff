import type { IncomingHttpHeaders } from 'node:http';
import { isLegacyRequest } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { isLegacy } from '../src/mcp/modern.js';

/** The era routing gives the SDK's isLegacyRequest answer for every kind of request, without a web Request. */

const envelope = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};
const modernHeaders = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'shell_exec' };
const cases: [string, string, IncomingHttpHeaders, unknown][] = [
  [
    'initialize',
    'POST',
    {},
    {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    },
  ],
  [
    '2025 session call',
    'POST',
    { 'mcp-session-id': 'abc', 'mcp-protocol-version': '2025-11-25' },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'shell_exec', arguments: {} } },
  ],
  ['2025 notification', 'POST', { 'mcp-session-id': 'abc' }, { jsonrpc: '2.0', method: 'notifications/initialized' }],
  ['2025 batch', 'POST', {}, [{ jsonrpc: '2.0', id: 1, method: 'ping' }]],
  ['posted response', 'POST', {}, { jsonrpc: '2.0', id: 1, result: {} }],
  ['session GET', 'GET', { 'mcp-session-id': 'abc' }, undefined],
  ['session DELETE', 'DELETE', { 'mcp-session-id': 'abc' }, undefined],
  [
    'modern call',
    'POST',
    modernHeaders,
    { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'shell_exec', arguments: {}, _meta: envelope } },
  ],
  [
    'modern discover',
    'POST',
    { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'server/discover' },
    { jsonrpc: '2.0', id: 4, method: 'server/discover', params: { _meta: envelope } },
  ],
  [
    'modern claim, no headers',
    'POST',
    {},
    { jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: envelope } },
  ],
  [
    'modern header, no envelope',
    'POST',
    { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
    { jsonrpc: '2.0', id: 6, method: 'tools/list', params: {} },
  ],
  [
    'unknown revision claim',
    'POST',
    {},
    {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/list',
      params: { _meta: { ...envelope, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } },
    },
  ],
  [
    'malformed envelope',
    'POST',
    {},
    {
      jsonrpc: '2.0',
      id: 8,
      method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': 5 } },
    },
  ],
  [
    'header/body mismatch',
    'POST',
    { ...modernHeaders, 'mcp-name': 'other' },
    { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'shell_exec', _meta: envelope } },
  ],
  [
    'session id beside a modern claim',
    'POST',
    { ...modernHeaders, 'mcp-session-id': 'abc' },
    { jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'shell_exec', _meta: envelope } },
  ],
];

describe('protocol era routing', () => {
  it.each(cases)('%s: the same answer as isLegacyRequest', async (_name, method, headers, body) => {
    const h = new Headers();
    for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') h.set(k, v);
    const sdk = await isLegacyRequest(new Request('http://localhost/mcp', { method, headers: h }), body);
    expect(isLegacy({ method, headers }, body)).toBe(sdk);
  });

  it('sends 2025 traffic to the sessions and 2026-07-28 traffic to the stateless endpoint', () => {
    expect(isLegacy({ method: 'POST', headers: cases[1]![2] }, cases[1]![3])).toBe(true);
    expect(isLegacy({ method: 'POST', headers: modernHeaders }, cases[7]![3])).toBe(false);
  });
});
