import { describe, expect, it } from 'vitest';
import { hostName, requestGuards } from '../src/mcp/guards.js';

const base = {
  host: '127.0.0.1',
  allowedHosts: [] as string[],
  allowedOrigins: [] as string[],
  publicUrl: undefined as string | undefined,
  authToken: undefined as string | undefined,
};

describe('HTTP request guards', () => {
  it('reads the host name of a Host header without its port, IPv6 literals in brackets', () => {
    expect(hostName('LocalHost:8080')).toBe('localhost');
    expect(hostName('[::1]:3000')).toBe('[::1]');
    expect(hostName('127.0.0.1')).toBe('127.0.0.1');
    expect(hostName(undefined)).toBeUndefined();
    expect(hostName('a:b:c')).toBeUndefined();
  });

  it('accepts loopback Host headers and *.localhost (previews), refuses others (DNS rebinding)', () => {
    const g = requestGuards(base);
    for (const host of ['localhost:1234', '127.0.0.1:1', '[::1]:80', '3000-abc.localhost:9', 'site.site.localhost'])
      expect(g.hostAllowed({ host }), host).toBe(true);
    for (const host of ['evil.example', 'localhost.evil.example', '127.0.0.2', ''])
      expect(g.hostAllowed({ host }), host).toBe(false);
    expect(g.hostAllowed({})).toBe(false);
  });

  it('accepts the bind address, configured hosts and the public URL with its subdomains', () => {
    const g = requestGuards({
      ...base,
      host: 'fd00::1',
      allowedHosts: ['MCP.Example.com'],
      publicUrl: 'https://sbx.example.org',
    });
    expect(g.hostAllowed({ host: '[fd00::1]:3939' })).toBe(true);
    expect(g.hostAllowed({ host: 'mcp.example.com' })).toBe(true);
    expect(g.hostAllowed({ host: 'sbx.example.org' })).toBe(true);
    expect(g.hostAllowed({ host: '3000-x.sbx.example.org' })).toBe(true);
    expect(g.hostAllowed({ host: 'example.org' })).toBe(false);
  });

  it('accepts no Origin (non-browser clients), loopback origins and configured ones; refuses the rest', () => {
    const g = requestGuards({ ...base, allowedOrigins: ['https://App.example.com/'] });
    expect(g.originAllowed({})).toBe(true);
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1', 'http://[::1]:8080', 'https://app.example.com'])
      expect(g.originAllowed({ origin }), origin).toBe(true);
    for (const origin of ['https://evil.example', 'http://localhost.evil.example', 'null', 'not a url'])
      expect(g.originAllowed({ origin }), origin).toBe(false);
  });

  it('checks the bearer token (scheme case-insensitive) and lets everything through without one', () => {
    expect(requestGuards(base).authorized({})).toBe(true);
    const g = requestGuards({ ...base, authToken: 'a-token-of-16-chars' });
    expect(g.authorized({ authorization: 'Bearer a-token-of-16-chars' })).toBe(true);
    expect(g.authorized({ authorization: 'bearer a-token-of-16-chars' })).toBe(true);
    expect(g.authorized({ authorization: 'Bearer a-token-of-16-charsX' })).toBe(false);
    expect(g.authorized({ authorization: 'Basic a-token-of-16-chars' })).toBe(false);
    expect(g.authorized({})).toBe(false);
  });

  it('names the caller by a digest of its token, never the token itself', () => {
    const g = requestGuards({ ...base, authToken: 'a-token-of-16-chars' });
    const p = g.principal({ authorization: 'Bearer a-token-of-16-chars' });
    expect(p).not.toContain('a-token');
    expect(p).toBe(g.principal({ authorization: 'bearer a-token-of-16-chars' }));
    expect(p).not.toBe(g.principal({ authorization: 'Bearer another-token-16-chars' }));
    // Without a token every caller is the same one.
    const open = requestGuards(base);
    expect(open.principal({ authorization: 'Bearer x' })).toBe(open.principal({}));
  });
});
