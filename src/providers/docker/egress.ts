import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { EGRESS_PROXY_PORT, type SandboxEgress } from '../../egress/service.js';
import type { Logger } from '../../logger.js';
import { newToken, type ContainerExec } from './exec.js';
import { MARKER_ENV } from './framing.js';

const SCRIPT_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scripts', 'egress-relay.pl');
/** How long the relay may take to print its bridge port. */
const START_TIMEOUT_MS = 15_000;
/** A relay that ends (shell_kill_all kills it with everything else) is started again after this. */
const RESTART_DELAY_MS = 1000;
/** Relay lines are "port N", "open" and "refused": anything longer is not the relay talking. */
const MAX_LINE = 64;
/**
 * Each bridge is an engine exec: a sandbox that opens and drops connections in a loop must not turn
 * into a flood of execs against the engine every sandbox shares. Beyond this many a second: 503.
 */
const MAX_BRIDGES_PER_SECOND = 40;
/** Refusals queued for a relay that does not read them beyond this are dropped, never buffered. */
const MAX_PENDING_WRITE = 64 * 1024;

/** The relay script (scripts/egress-relay.pl), read once per server. */
export function loadRelayScript(): Promise<string> {
  return readFile(SCRIPT_PATH, 'utf8');
}

/**
 * SANDBOX_NETWORK=egress in one container. The container keeps `--network none`; the relay (started
 * through the exec API, as the sandbox user) listens on the container's 127.0.0.1:3128 and says "open"
 * for each client. The server answers with a bridge exec per connection, the reverse of a preview's
 * connectPort, piped to this sandbox's proxy socket, or past the connection cap with a "refuse" line.
 * The relay decides nothing: everything it carries reaches only the server's proxy.
 */
export class DockerEgressRelay {
  private control?: Duplex;
  private bridgePort = 0;
  private bridges = 0;
  private recentBridges: number[] = [];
  private stopped = false;
  private failures = 0;

  constructor(
    private readonly runner: ContainerExec,
    private readonly door: SandboxEgress,
    private readonly script: string,
    private readonly maxConnections: number,
    private readonly log: Logger,
  ) {}

  /** Starts the relay and waits until it listens; a failure is reported in sandbox_info, not thrown. */
  async start(): Promise<void> {
    try {
      await this.launch();
      this.door.problem = undefined;
      this.failures = 0;
    } catch (e) {
      this.failures++;
      this.door.problem = `the egress relay does not run in this container: ${(e as Error).message}`;
      this.log.warn({ err: (e as Error).message }, 'docker egress relay failed: this sandbox has no network');
    }
  }

  stop(): void {
    this.stopped = true;
    this.control?.destroy();
  }

  private async launch(): Promise<void> {
    const { exec, stream } = await this.runner.start(['perl', '-e', this.script, 'listen', String(EGRESS_PROXY_PORT)], {
      stdin: true,
    });
    this.control = stream;
    let lines = '';
    let stderr = '';
    let onPort: ((port: number) => void) | undefined;
    const listening = new Promise<number>((resolve) => (onPort = resolve));
    const ended = this.runner.demux(
      stream,
      (data) => {
        lines += data.toString('latin1');
        let nl: number;
        while ((nl = lines.indexOf('\n')) >= 0) {
          const line = lines.slice(0, nl);
          lines = lines.slice(nl + 1);
          const port = /^port (\d{1,5})$/.exec(line);
          if (port) onPort?.(Number(port[1]));
          else if (line === 'open') this.onOpen(stream);
          else if (line === 'refused') this.door.refusedOverCap(this.bridges);
        }
        if (lines.length > MAX_LINE) lines = '';
      },
      (data) => {
        if (stderr.length < 1024) stderr += data.toString();
      },
    );
    void ended.then(() => this.onRelayEnd(stream));
    let timer: NodeJS.Timeout | undefined;
    const port = await Promise.race([
      listening,
      ended.then(async () => {
        const code = await this.runner.exitCode(exec).catch(() => null);
        throw new Error(
          code === 126 || code === 127
            ? 'the image has no perl, which the docker egress relay needs (README: Egress)'
            : stderr.trim() || `it ended with exit code ${code}`,
        );
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`it did not start listening in ${START_TIMEOUT_MS / 1000} s`)),
          START_TIMEOUT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    this.bridgePort = port;
    // A spare bridge, so the first client need not wait for an exec to start.
    this.openBridge();
  }

  /** The relay ended: killed from inside (shell_kill_all) or the container went. Started again while the sandbox lives. */
  private onRelayEnd(stream: Duplex): void {
    if (this.control !== stream || this.stopped) return;
    this.control = undefined;
    if (this.failures >= 3) return;
    setTimeout(() => {
      if (!this.stopped) void this.start();
    }, RESTART_DELAY_MS).unref();
  }

  private onOpen(control: Duplex): void {
    const now = Date.now();
    this.recentBridges = this.recentBridges.filter((t) => now - t < 1000);
    // One more than the cap: the spare (the proxy itself still holds connections to the cap).
    if (this.bridges > this.maxConnections || this.recentBridges.length >= MAX_BRIDGES_PER_SECOND) {
      // Counted when the relay says it turned a client away (a spare may have served this one).
      if (control.writableLength < MAX_PENDING_WRITE) control.write('refuse\n');
      return;
    }
    this.recentBridges.push(now);
    this.openBridge();
  }

  /**
   * Starts a bridge; a spare one (opened ahead, and never used) that ends is replaced, unless it ended
   * at once (the relay is gone: its replacement brings its own spare).
   */
  private openBridge(): void {
    const started = Date.now();
    this.bridges++;
    this.bridge()
      .then(
        (used) => {
          if (!used && !this.stopped && Date.now() - started > RESTART_DELAY_MS) this.openBridge();
        },
        (e: Error) => this.log.debug({ err: e.message }, 'egress bridge failed'),
      )
      .finally(() => this.bridges--);
  }

  /**
   * One client connection: a bridge exec to the relay's pairing port, piped to the proxy socket once
   * the client's first bytes come (a spare waits for its client without holding a proxy connection).
   * Resolves whether it carried a connection.
   */
  private async bridge(): Promise<boolean> {
    const token = newToken();
    const { stream } = await this.runner.start(['perl', '-e', this.script, 'bridge', String(this.bridgePort)], {
      env: { [MARKER_ENV]: token },
      stdin: true,
    });
    let proxy: net.Socket | undefined;
    let ended = false;
    const connectProxy = (): net.Socket => {
      const socket = net.connect({ path: this.door.socketPath, allowHalfOpen: true });
      socket.on('data', (data: Buffer) => {
        if (!stream.write(data)) socket.pause();
      });
      stream.on('drain', () => socket.resume());
      socket.on('end', () => stream.end());
      socket.on('drain', () => stream.resume());
      socket.on('error', () => socket.destroy());
      socket.once('close', () => {
        if (ended) return;
        // The proxy closed first (idle timeout, sandbox end): the bridge in the container goes too.
        stream.destroy();
        void this.runner.kill(token, 'SIGKILL').catch(() => undefined);
      });
      return socket;
    };
    await this.runner.demux(
      stream,
      (data) => {
        proxy ??= connectProxy();
        if (!proxy.write(data)) stream.pause();
      },
      () => undefined,
    );
    ended = true;
    if (!proxy) return false;
    proxy.end();
    if (!proxy.destroyed) await new Promise<void>((resolve) => proxy!.once('close', resolve));
    return true;
  }
}
