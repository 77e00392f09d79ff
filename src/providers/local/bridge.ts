import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import { SandboxError } from '../../errors.js';

/** sun_path holds 108 bytes on Linux; longer state dirs cannot host the socket. */
const MAX_SOCKET_PATH = 107;
const HELLO_TIMEOUT_MS = 5000;

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

  private constructor(readonly socketPath: string, private readonly server: net.Server) {
    server.on('connection', (s) => this.accept(s));
  }

  static async listen(socketPath: string): Promise<PortBridge | undefined> {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) return undefined;
    await fs.rm(socketPath, { force: true });
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => { server.off('error', reject); resolve(); });
    });
    server.unref();
    return new PortBridge(socketPath, server);
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
      cancel = () => { clearTimeout(timer); this.waiters.delete(token); };
    });
    socket.catch(() => undefined);
    return { token, socket, cancel };
  }

  private accept(s: net.Socket): void {
    let buf = Buffer.alloc(0);
    const drop = () => s.destroy();
    const timer = setTimeout(drop, HELLO_TIMEOUT_MS);
    s.on('error', drop);
    // 'readable' rather than 'data': once the listener is removed, the stream is back to its
    // initial state, so whoever gets the socket next starts it flowing by listening or piping.
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = s.read() as Buffer | null) !== null) {
        buf = Buffer.concat([buf, chunk]);
        const nl = buf.indexOf(0x0a);
        if (nl < 0) { if (buf.length > 64) drop(); continue; }
        s.off('readable', onReadable);
        clearTimeout(timer);
        s.off('error', drop);
        const token = buf.subarray(0, nl).toString('latin1');
        const w = this.waiters.get(token);
        if (!w) return drop();
        this.waiters.delete(token);
        clearTimeout(w.timer);
        const rest = buf.subarray(nl + 1);
        if (rest.length) s.unshift(rest);
        // After Node's own next-tick bookkeeping for the removed listener, a new 'data' listener
        // (the HTTP client's) starts the flow.
        setImmediate(() => w.resolve(s));
        return;
      }
    };
    s.on('readable', onReadable);
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
