import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

/** Headers arrive in one round trip from any real client; a slow drip of them is an attack (slowloris). */
const HEADERS_TIMEOUT_MS = 10_000;
/** An idle keep-alive connection is closed after this (Node's default, stated so it is a decision). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How often Node checks those timeouts; its default (30 s) would let a slow client overstay by that much. */
const CHECK_INTERVAL_MS = 1_000;
/** A refused connection is closed after this, whether or not its client read the answer. */
const REFUSED_LINGER_MS = 2_000;
const WARN_EVERY_MS = 10_000;

/**
 * Timeouts for one of our HTTP listeners. Node's requestTimeout runs from a request's first byte until
 * it has been received completely, and stops there: it bounds how long a client takes to SEND, never
 * a response, so SSE streams (GET) and a tool call answered minutes after its POST are not cut. The
 * socket inactivity timeout stays off for the same reason: a long call may send nothing for minutes.
 */
export function httpTimeouts(config: Pick<Config, 'requestTimeoutS'>): http.ServerOptions {
  const requestTimeout = config.requestTimeoutS * 1000;
  return {
    requestTimeout,
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: CHECK_INTERVAL_MS,
  };
}

/**
 * Caps the connections one client address holds at once (SANDBOX_MAX_CONNECTIONS_PER_CLIENT; 0: no cap),
 * so one client cannot take every socket the server has. Node has no hook before it starts parsing a
 * connection, so the gate takes the place of the server's own 'connection' listeners (call this right
 * after creating the server) and hands them only the connections it admits. A refused connection gets
 * a 429 and is closed without being parsed.
 */
export function limitConnectionsPerClient(server: http.Server, max: number, log: Logger): void {
  if (!max) return;
  // A Map: the key is the client's address, never an object property.
  const open = new Map<string, number>();
  const inner = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  let lastWarned = 0;
  let refusedSinceWarning = 0;
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const held = open.get(address) ?? 0;
    if (held >= max) {
      refusedSinceWarning++;
      if (Date.now() - lastWarned > WARN_EVERY_MS) {
        log.warn(
          { address, held, refused: refusedSinceWarning },
          'connections refused at SANDBOX_MAX_CONNECTIONS_PER_CLIENT',
        );
        lastWarned = Date.now();
        refusedSinceWarning = 0;
      }
      refuse(socket, held);
      return;
    }
    open.set(address, held + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
    for (const listener of inner) listener.call(server, socket);
  });
}

function refuse(socket: Socket, held: number): void {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    error: {
      code: -32000,
      message: `this client address already holds ${held} connections, the limit (SANDBOX_MAX_CONNECTIONS_PER_CLIENT): close idle ones or retry later; behind a reverse proxy, raise the limit`,
    },
    id: null,
  });
  socket.on('error', () => socket.destroy());
  socket.end(
    `HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: 5\r\nconnection: close\r\n\r\n${body}`,
  );
  // The request is read and dropped: closing with it unread would reset the connection, and the client
  // could lose the answer.
  socket.resume();
  setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
}
