import net from 'node:net';
import { AgentError } from './errors.js';

/** Connects to a port on the sandbox's loopback: IPv4 first, then IPv6 (servers bound to ::1 only). */
function connectLoopback(port: number): Promise<net.Socket> {
  const attempt = (host: string) =>
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port, allowHalfOpen: true });
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', reject);
    });
  return attempt('127.0.0.1')
    .catch(() => attempt('::1'))
    .catch(() => {
      throw new AgentError(
        'NOT_FOUND',
        `nothing is listening on port ${port} inside the sandbox`,
        'start the server first (listening on 127.0.0.1, localhost or 0.0.0.0), and check its logs',
      );
    });
}

/**
 * Opens one bridged connection: the sandbox port on one side, the server's bridge socket on the
 * other, introduced by the token the server is waiting for. Bytes are then piped both ways.
 */
export async function openPort(
  args: { port: unknown; token: unknown },
  bridgePath: string | undefined,
): Promise<object> {
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new AgentError(
      'INVALID_ARGUMENT',
      `port must be 1-65535, got ${String(args.port)}`,
      'pass a TCP port number',
    );
  if (typeof args.token !== 'string' || !/^[0-9a-f]{32}$/.test(args.token))
    throw new AgentError('INVALID_ARGUMENT', 'bad bridge token');
  if (!bridgePath) throw new AgentError('UNSUPPORTED', 'this sandbox has no port bridge');
  const target = await connectLoopback(port);
  const bridge = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ path: bridgePath, allowHalfOpen: true });
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (error) =>
      reject(new AgentError('UNAVAILABLE', `cannot reach the server's port bridge: ${error.message}`)),
    );
  }).catch((error) => {
    target.destroy();
    throw error;
  });
  bridge.write(`${args.token}\n`);
  const end = () => {
    target.destroy();
    bridge.destroy();
  };
  target.on('error', end).on('close', end);
  bridge.on('error', end).on('close', end);
  target.pipe(bridge);
  bridge.pipe(target);
  return {};
}
