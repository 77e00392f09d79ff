import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config } from '../config.js';
import { SandboxError } from '../errors.js';
import { httpTimeouts, limitConnectionsPerClient } from '../http-limits.js';
import type { Logger } from '../logger.js';
import { notFound, parsePreviewLabel, proxyRequest, proxyUpgrade, type SandboxLookup } from './proxy.js';

/** Serves one deployed site's request (the site store's). */
export type SiteHandler = (site: string, req: IncomingMessage, res: ServerResponse) => Promise<void>;

const SITE_LABELS = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.site$/;

function hostName(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(hostHeader.trim().toLowerCase());
  return m?.[1];
}

/**
 * The preview proxy and site host: requests whose Host is `<port>-<sandboxId>.<domain>` go to that
 * sandbox port, `<site>.site.<domain>` to a deployed site, where the domain is `localhost` or the host
 * of SANDBOX_PUBLIC_URL. Over HTTP it rides on the MCP listener (attachMain); over stdio it opens its
 * own loopback listener at the first URL it hands out.
 */
export class WebHost {
  private mainPort?: number;
  private own?: Promise<{ server: http.Server; port: number }>;
  private readonly lookup: SandboxLookup;
  private readonly sites?: SiteHandler;
  private readonly log: Logger;
  private readonly config: Config;
  private readonly publicBase?: URL;
  /** Domains whose subdomains are previews and sites: localhost, and SANDBOX_PUBLIC_URL's host. */
  private readonly domains: string[];

  /** One per server (serve.ts): `lookup` finds a preview's sandbox, `sites` serves deployed sites. */
  constructor(options: { config: Config; log: Logger; lookup: SandboxLookup; sites?: SiteHandler }) {
    this.config = options.config;
    this.publicBase = options.config.publicUrl ? new URL(options.config.publicUrl) : undefined;
    this.domains = ['localhost', ...(this.publicBase ? [this.publicBase.hostname] : [])];
    this.log = options.log.child({ component: 'web' });
    this.lookup = options.lookup;
    this.sites = options.sites;
  }

  /** HTTP mode: previews and sites are served by the MCP listener on this port. */
  attachMain(port: number): void {
    this.mainPort = port;
  }

  /** The port previews and sites answer on, opening the stdio-mode listener if needed. */
  async port(): Promise<number> {
    if (this.mainPort !== undefined) return this.mainPort;
    if (!this.own) {
      this.own = this.listen();
      this.own.catch(() => {
        this.own = undefined;
      });
    }
    return (await this.own).port;
  }

  /** Where URLs point: the public base when configured, else `*.localhost` on this server's port. */
  private async base(): Promise<{ scheme: string; domain: string; port: string }> {
    const port = await this.port(); // opens the stdio-mode listener even when a proxy fronts it
    const u = this.publicBase;
    if (!u) return { scheme: 'http:', domain: 'localhost', port: `:${port}` };
    return { scheme: u.protocol, domain: u.hostname, port: u.port ? `:${u.port}` : '' };
  }

  async previewUrl(sandboxId: string, port: number): Promise<string> {
    const b = await this.base();
    return `${b.scheme}//${port}-${sandboxId}.${b.domain}${b.port}/`;
  }

  async siteUrl(site: string): Promise<string> {
    const b = await this.base();
    return `${b.scheme}//${site}.site.${b.domain}${b.port}/`;
  }

  /** The labels of a Host name before a domain we serve (`3000-abc.localhost` -> `3000-abc`). */
  private labelsOf(name: string): string | undefined {
    for (const d of this.domains) if (name.endsWith(`.${d}`)) return name.slice(0, -d.length - 1);
    return undefined;
  }

  /** Route hook: claims requests for preview and site hosts; false leaves them to the next route. */
  handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const name = hostName(req.headers.host);
    const labels = name && this.labelsOf(name);
    if (!labels) return false;
    const preview = parsePreviewLabel(labels);
    if (preview) {
      const sb = await this.lookup(preview.sandboxId);
      if (!sb || !sb.isAlive()) notFound(res, 'no preview at this address: the sandbox does not exist or has ended');
      else await proxyRequest(req, res, sb, preview.port, this.log);
      return true;
    }
    const site = SITE_LABELS.exec(labels);
    if (site && this.sites) {
      await this.sites(site[1]!, req, res);
      return true;
    }
    // Malformed preview or site names still get a 404 here; other names may reach /mcp.
    if (labels.endsWith('.site') || /^\d+-[^.]*$/.test(labels)) {
      notFound(res, 'no preview or site at this address');
      return true;
    }
    return false;
  };

  /** Upgrade hook (WebSockets): only previews upgrade. */
  handleUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<boolean> => {
    const name = hostName(req.headers.host);
    const labels = name && this.labelsOf(name);
    const preview = labels ? parsePreviewLabel(labels) : undefined;
    if (!preview) return false;
    const sb = await this.lookup(preview.sandboxId);
    if (!sb || !sb.isAlive()) {
      socket.end(
        'HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nno preview at this address\n',
      );
      return true;
    }
    await proxyUpgrade(req, socket, head, sb, preview.port);
    return true;
  };

  private async listen(): Promise<{ server: http.Server; port: number }> {
    // The same limits as the HTTP transport's listener: this one serves loopback only, but any local client.
    const server = http.createServer(httpTimeouts(this.config), (req, res) => {
      this.handleRequest(req, res).then(
        (claimed) => {
          if (!claimed)
            notFound(
              res,
              'this listener serves only preview (<port>-<sandboxId>.<domain>) and site (<name>.site.<domain>) addresses',
            );
        },
        (err) => {
          this.log.error({ err }, 'web request failed');
          if (!res.headersSent) res.writeHead(500).end('internal error\n');
          else res.destroy();
        },
      );
    });
    limitConnectionsPerClient(server, this.config.maxConnectionsPerClient, this.log);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.handleUpgrade(req, socket, head).then(
        (claimed) => {
          if (!claimed) socket.destroy();
        },
        () => socket.destroy(),
      );
    });
    const wanted = this.config.webPort ?? 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(wanted, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: Error) => {
      throw new SandboxError(
        'UNAVAILABLE',
        `cannot open the preview and site listener on 127.0.0.1:${wanted}: ${err.message}`,
        {
          hint: wanted
            ? 'another program uses SANDBOX_WEB_PORT: the operator should set a free port (or 0 for any) and restart sandbox-mcp'
            : "the operator should check the machine's loopback interface and restart sandbox-mcp",
        },
      );
    });
    server.unref();
    const port = (server.address() as AddressInfo).port;
    this.log.info({ port }, 'preview and site listener opened on loopback');
    return { server, port };
  }

  async close(): Promise<void> {
    const own = await this.own?.catch(() => undefined);
    if (own)
      await new Promise<void>((resolve) => {
        own.server.close(() => resolve());
        own.server.closeAllConnections();
      });
  }
}
