import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';

/**
 * The checks every HTTP request passes before anything else reads it: the Host header (DNS rebinding:
 * a page on evil.example that resolves to 127.0.0.1 still sends Host: evil.example), the Origin (a
 * browser page of another site), and the bearer token. Pure functions of the config and the headers.
 */
export interface RequestGuards {
  hostAllowed(headers: IncomingHttpHeaders): boolean;
  originAllowed(headers: IncomingHttpHeaders): boolean;
  /**
   * The request's Origin when the operator listed it (SANDBOX_ALLOWED_ORIGINS, or SANDBOX_PUBLIC_URL's
   * origin): the only origins granted CORS. Loopback origins pass originAllowed but get no grant: any
   * local dev server's page has one, and must not read sandboxes with a browser's help.
   */
  corsOrigin(headers: IncomingHttpHeaders): string | undefined;
  authorized(headers: IncomingHttpHeaders): boolean;
  /**
   * Who is calling, as far as handles care: a digest of the bearer token the request carried (the
   * same for every request when the server has no token). Never the token itself.
   */
  principal(headers: IncomingHttpHeaders): string;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** The host name of a Host header, lowercase, without the port; IPv6 literals keep their brackets. */
export function hostName(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(hostHeader.trim().toLowerCase());
  return m?.[1];
}

/** An allowed host as hostName() reports it: IPv6 literals (`fd00::1`, a bind address) in brackets. */
function hostKey(name: string): string {
  const n = name.trim().toLowerCase();
  return n.split(':').length > 2 && !n.startsWith('[') ? `[${n}]` : n;
}

/** The token of an Authorization header; the scheme name is case-insensitive (RFC 9110 11.1). */
function bearerToken(headers: IncomingHttpHeaders): string {
  return /^bearer +(.*)$/i.exec(headers.authorization ?? '')?.[1] ?? '';
}

export function requestGuards(
  config: Pick<Config, 'host' | 'allowedHosts' | 'allowedOrigins' | 'publicUrl' | 'authToken'>,
): RequestGuards {
  const publicHost = config.publicUrl ? new URL(config.publicUrl).hostname : undefined;
  const allowedHosts = new Set([
    ...LOOPBACK_NAMES,
    hostKey(config.host),
    ...config.allowedHosts.map(hostKey),
    ...(publicHost ? [publicHost] : []),
  ]);
  // Browsers send a bare lowercase origin; a configured "https://App.example.com/" must match it too.
  const allowedOrigins = new Set(
    config.allowedOrigins.map((options) => {
      try {
        return new URL(options).origin;
      } catch {
        return options;
      }
    }),
  );
  const publicOrigin = config.publicUrl ? new URL(config.publicUrl).origin : undefined;
  const token = config.authToken ? Buffer.from(config.authToken) : undefined;
  return {
    hostAllowed(headers) {
      const name = hostName(headers.host);
      return (
        !!name &&
        (allowedHosts.has(name) || name.endsWith('.localhost') || (!!publicHost && name.endsWith(`.${publicHost}`)))
      );
    },
    originAllowed(headers) {
      const origin = headers.origin;
      if (!origin) return true;
      if (allowedOrigins.has(origin) || origin === config.publicUrl) return true;
      try {
        return LOOPBACK_NAMES.includes(new URL(origin).hostname.toLowerCase());
      } catch {
        return false;
      }
    },
    corsOrigin(headers) {
      const origin = headers.origin;
      return origin && (allowedOrigins.has(origin) || origin === publicOrigin) ? origin : undefined;
    },
    authorized(headers) {
      if (!token) return true;
      const got = Buffer.from(bearerToken(headers));
      return got.length === token.length && timingSafeEqual(got, token);
    },
    principal(headers) {
      return createHash('sha256')
        .update('sandbox-mcp bearer\0')
        .update(token ? bearerToken(headers) : '')
        .digest('base64url');
    },
  };
}
