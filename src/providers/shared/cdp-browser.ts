import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { SandboxError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { shellQuote as q } from './remote-processes.js';
import { scriptFile } from './script-file.js';
import type { BrowserEndpoint, Sandbox } from '../types.js';

/** scripts/find-chromium.sh NAME...: the first NAME that is an executable on the sandbox's PATH. */
const findChromiumScript = scriptFile(new URL('./scripts/find-chromium.sh', import.meta.url));
/** Names tried on the sandbox's PATH after the configured path. */
const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const START_TIMEOUT_MS = 30_000;
const PROCESS_NAME = 'sandbox-mcp-chromium';
/** Chromium prints this once its DevTools endpoint accepts connections; the port is its own pick (port 0). */
const LISTENING = /DevTools listening on ws:\/\/[^/\s]+:(\d+)(\/devtools\/browser\/[\w-]+)/;

/**
 * `--remote-debugging-port=0` lets Chromium pick a free port and say which on stderr, so a relaunch never
 * races the old one for its port. `--disable-dev-shm-usage`: containers often have a 64 MiB /dev/shm.
 */
function chromiumArgs(profile: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--no-default-browser-check',
    '--password-store=basic',
    '--use-mock-keychain',
    '--mute-audio',
    '--disable-dev-shm-usage',
    '--remote-debugging-address=127.0.0.1',
    '--remote-debugging-port=0',
    `--user-data-dir=${profile}`,
    'about:blank',
  ];
}

interface Running {
  processId: string;
  profile: string;
  server?: net.Server;
  sockets: Set<net.Socket | Duplex>;
}

/**
 * Chromium running INSIDE a sandbox that has no launcher seam (docker and the cloud providers), reached
 * over CDP. One per sandbox, with a Chromium (own profile, own port) per endpoint: the sessions of a named
 * workspace share the sandbox, and one's browser must not end another's. Each endpoint's `close` ends its own.
 * - With `connectPort` (docker): a loopback-only listener on the host pipes each connection to the
 *   sandbox's loopback port. Chrome refuses DevTools requests whose Host is not an IP or localhost, and
 *   its ws URL names 127.0.0.1 inside the sandbox, so the host side must be an IP:port of our own.
 * - Otherwise (e2b, daytona): the provider's port URL as wss, with its headers.
 */
export class SandboxChromium {
  private readonly runs = new Set<Running>();
  private disposed = false;

  constructor(
    private readonly sandbox: Sandbox,
    /** What to put in the image/template when no Chromium is found (provider-specific words). */
    private readonly installHint: string,
    private readonly log?: Logger,
  ) {}

  async endpoint(chromiumPath: string): Promise<BrowserEndpoint> {
    const binary = await this.find(chromiumPath);
    const name = `${PROCESS_NAME}-${randomBytes(4).toString('hex')}`;
    const profile = `/tmp/${name}`;
    const command = `exec ${[binary, ...chromiumArgs(profile)].map(q).join(' ')} 2>&1`;
    const proc = await this.sandbox.processes.spawn(command, { cwd: '/tmp', name });
    const run: Running = { processId: proc.processId, profile, sockets: new Set() };
    this.runs.add(run);
    try {
      const { port, path } = await this.waitListening(run.processId);
      const close = () => this.stop(run);
      if (this.sandbox.connectPort) {
        const hostPort = await this.listen(run, port);
        return { kind: 'cdp', url: `ws://127.0.0.1:${hostPort}${path}`, close };
      }
      const { url, headers } = await this.sandbox.portUrl(port);
      const ws = new URL(url);
      ws.protocol = ws.protocol === 'http:' ? 'ws:' : 'wss:';
      ws.pathname = path;
      return { kind: 'cdp', url: ws.toString(), headers, close };
    } catch (e) {
      await this.stop(run);
      throw e;
    }
  }

  /** The configured path if the sandbox has it, else the first known name on the sandbox's PATH. */
  private async find(chromiumPath: string): Promise<string> {
    const names = [chromiumPath, ...NAMES].map(q).join(' ');
    const r = await this.sandbox.exec(`bash -c ${q(findChromiumScript())} find-chromium ${names}`, {
      timeoutMs: 15_000,
    });
    const found = r.stdout.trim().split('\n')[0];
    if (r.exitCode === 0 && found) return found;
    throw new SandboxError(
      'UNSUPPORTED',
      `no Chromium in this ${this.sandbox.provider} sandbox (looked for ${[chromiumPath, ...NAMES].join(', ')} on its PATH), so the browser tools are unavailable`,
      { hint: this.installHint },
    );
  }

  private async waitListening(processId: string): Promise<{ port: number; path: string }> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let cursor = 0;
    let output = '';
    for (;;) {
      const waitMs = Math.max(0, deadline - Date.now());
      const r = await this.sandbox.processes.read(processId, {
        cursor,
        waitMs: Math.min(waitMs, 5000),
        until: LISTENING.source,
        maxBytes: 64 * 1024,
      });
      cursor = r.cursor;
      output = (output + r.output).slice(-16 * 1024);
      const m = LISTENING.exec(output);
      if (m) return { port: Number(m[1]), path: m[2]! };
      if (!r.running) {
        throw new SandboxError(
          'UNAVAILABLE',
          `Chromium exited in the sandbox before it listened (${r.signal ?? `exit code ${r.exitCode}`}): ${tail(output)}`,
          {
            hint: "check that the image's Chromium runs headless as a non-root user (chromium --headless --no-sandbox --dump-dom about:blank)",
          },
        );
      }
      if (Date.now() >= deadline) {
        throw new SandboxError(
          'UNAVAILABLE',
          `Chromium did not open its DevTools port within ${START_TIMEOUT_MS / 1000} s: ${tail(output)}`,
          { hint: 'the sandbox may be short of memory or CPU; try again' },
        );
      }
    }
  }

  /** A host listener on 127.0.0.1 only; each connection becomes a byte stream to the sandbox's port. */
  private async listen(run: Running, port: number): Promise<number> {
    const connect = this.sandbox.connectPort!.bind(this.sandbox);
    const server = net.createServer((socket) => {
      run.sockets.add(socket);
      socket.on('close', () => run.sockets.delete(socket));
      socket.pause();
      connect(port).then(
        (remote) => {
          run.sockets.add(remote);
          remote.on('close', () => {
            run.sockets.delete(remote);
            socket.destroy();
          });
          remote.on('error', () => socket.destroy());
          socket.on('close', () => remote.destroy());
          socket.on('error', () => remote.destroy());
          if (socket.destroyed) {
            remote.destroy();
            return;
          }
          socket.pipe(remote);
          remote.pipe(socket);
          socket.resume();
        },
        (error: Error) => {
          this.log?.debug({ sandboxId: this.sandbox.id, err: error.message }, 'browser port bridge failed');
          socket.destroy();
        },
      );
    });
    run.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as net.AddressInfo).port;
  }

  /** Ends one launch's browser (its process tree and profile) and its host listener. */
  async stop(run: Running): Promise<void> {
    if (!this.runs.delete(run)) return;
    closeListener(run);
    if (this.disposed || !this.sandbox.isAlive()) return;
    try {
      await this.sandbox.processes.kill(run.processId, 'SIGKILL');
      await this.sandbox.exec(`rm -rf ${q(run.profile)}`, { timeoutMs: 15_000 });
    } catch (e) {
      this.log?.debug({ sandboxId: this.sandbox.id, err: (e as Error).message }, 'stopping the sandbox browser failed');
    }
  }

  /** The sandbox is going away (its Chromium with it): only host-side resources need closing. */
  dispose(): void {
    this.disposed = true;
    for (const run of this.runs) closeListener(run);
    this.runs.clear();
  }
}

function closeListener(run: Running): void {
  run.server?.close();
  for (const s of run.sockets) s.destroy();
  run.sockets.clear();
}

function tail(output: string): string {
  const lines = output.trim().split('\n').filter(Boolean);
  return lines.slice(-5).join(' | ').slice(-600) || '(no output)';
}
