import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import { SandboxError } from '../../errors.js';

/** sun_path holds 108 bytes on Linux; longer state dirs cannot host the socket. */
const MAX_SOCKET_PATH = 107;

/**
 * The socket is mounted in the sandbox, so sandbox code can connect to it as often as it likes: each
 * connection costs the server a file descriptor. Caps per sandbox keep a flood from using up the
 * server's descriptors (/healthz, other sessions, the warm pool).
 */
export interface BridgeLimits {
  /** Connections open at once, introduced (carrying a preview) or not. */
  maxConnections: number;
  /** Connections that have not presented a token yet. */
  maxUnintroduced: number;
  /** How long a new connection has to present its token. */
  helloTimeoutMs: number;
  /** A bridged connection with no traffic either way for this long is closed. */
  idleTimeoutMs: number;
}

export const DEFAULT_BRIDGE_LIMITS: BridgeLimits = {
  maxConnections: 128,
  maxUnintroduced: 8,
  helloTimeoutMs: 5000,
  idleTimeoutMs: 30 * 60_000,
};

interface Waiter {
  resolve: (s: net.Socket) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The server's end of a sandbox's port bridge. The sandbox has its own network namespace, so the
 * server cannot dial its ports; instead it asks the agent (over its stdio channel) to connect to a
 * port and to this Unix socket, presenting a one-time token. Only the server creates the socket and
 * the folder is mounted read-only inside, so the sandbox can neither replace it nor redirect the
 * server to another socket; a connection without a token the server is waiting for is dropped.
 */
export class PortBridge {
  private readonly waiters = new Map<string, Waiter>();
  private unintroduced = 0;

  private constructor(
    readonly socketPath: string,
    private readonly server: net.Server,
    private readonly limits: BridgeLimits,
  ) {
    // Past this, Node closes a new connection as soon as it is accepted.
    server.maxConnections = limits.maxConnections;
    server.on('connection', (s) => this.accept(s));
  }

  static async listen(
    socketPath: string,
    limits: BridgeLimits = DEFAULT_BRIDGE_LIMITS,
  ): Promise<PortBridge | undefined> {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) return undefined;
    await fs.rm(socketPath, { force: true });
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.unref();
    return new PortBridge(socketPath, server, limits);
  }

  /** A fresh token and the connection that will present it. */
  expect(timeoutMs: number): { token: string; socket: Promise<net.Socket>; cancel: () => void } {
    const token = randomBytes(16).toString('hex');
    let cancel!: () => void;
    const socket = new Promise<net.Socket>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(token);
        reject(new SandboxError('TIMEOUT', 'the sandbox did not open the port connection in time'));
      }, timeoutMs);
      this.waiters.set(token, { resolve, reject, timer });
      cancel = () => {
        clearTimeout(timer);
        this.waiters.delete(token);
      };
    });
    socket.catch(() => undefined);
    return { token, socket, cancel };
  }

  private accept(incoming: net.Socket): void {
    // Only the agent, asked by the server, has a reason to connect, and only while a token is awaited.
    if (this.waiters.size === 0 || this.unintroduced >= Math.min(this.limits.maxUnintroduced, this.waiters.size + 2)) {
      incoming.destroy();
      return;
    }
    this.unintroduced++;
    let pending = true;
    let buf = Buffer.alloc(0);
    const settle = () => {
      if (pending) {
        pending = false;
        this.unintroduced--;
      }
    };
    const drop = () => {
      settle();
      incoming.destroy();
    };
    const timer = setTimeout(drop, this.limits.helloTimeoutMs);
    incoming.on('error', drop);
    incoming.once('close', () => {
      clearTimeout(timer);
      settle();
    });
    // 'readable' rather than 'data': once the listener is removed, the stream is back to its
    // initial state, so whoever gets the socket next starts it flowing by listening or piping.
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = incoming.read() as Buffer | null) !== null) {
        buf = Buffer.concat([buf, chunk]);
        const nl = buf.indexOf(0x0a);
        if (nl < 0) {
          if (buf.length > 64) drop();
          continue;
        }
        incoming.off('readable', onReadable);
        clearTimeout(timer);
        incoming.off('error', drop);
        settle();
        const token = buf.subarray(0, nl).toString('latin1');
        const w = this.waiters.get(token);
        if (!w) return drop();
        this.waiters.delete(token);
        clearTimeout(w.timer);
        const rest = buf.subarray(nl + 1);
        if (rest.length) incoming.unshift(rest);
        // A preview connection nobody uses any more (a dev server that never answers, a forgotten
        // WebSocket) would hold its descriptor for ever.
        incoming.setTimeout(this.limits.idleTimeoutMs, () => incoming.destroy());
        // After Node's own next-tick bookkeeping for the removed listener, a new 'data' listener
        // (the HTTP client's) starts the flow.
        setImmediate(() => w.resolve(incoming));
        return;
      }
    };
    incoming.on('readable', onReadable);
  }

  close(): void {
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new SandboxError('SANDBOX_GONE', 'the sandbox ended'));
    }
    this.waiters.clear();
    this.server.close();
  }
}
