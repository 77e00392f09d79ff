import net from 'node:net';

/**
 * SANDBOX_NETWORK=egress: the sandbox has no route anywhere, so its programs reach the server's proxy
 * as http://127.0.0.1:<port> on their own loopback, and each connection is relayed over the server's
 * Unix socket in the read-only run folder (the reverse of the port bridge). The server decides what
 * passes; this relay only moves bytes.
 */
/** Resolves once listening (or failed: commands then see a refused connection, and stderr says why). */
export function startEgressRelay(port: number, socketPath: string): Promise<void> {
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ path: socketPath, allowHalfOpen: true });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => {
    server.once('error', (error) => {
      process.stderr.write(`agent: the egress relay cannot listen on 127.0.0.1:${port}: ${error.message}\n`);
      resolve();
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
}
