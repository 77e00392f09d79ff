import { Duplex } from 'node:stream';
import { SandboxError } from '../../errors.js';
import { newToken, type ContainerExec } from './exec.js';
import { MARKER_ENV } from './framing.js';
import { scriptFile } from '../shared/script-file.js';

/**
 * Port bridging through the exec API (scripts/port-bridge.sh PORT): bash opens a TCP connection to the
 * port on the container's own loopback and copies bytes both ways over the exec's stdin/stdout.
 * Containers run with network none, so this is the only way in; no bridge IP is ever used. "ok" on
 * stderr says the connection is up.
 */
const bridgeScript = scriptFile(new URL('./scripts/port-bridge.sh', import.meta.url));

const CONNECT_TIMEOUT_MS = 10_000;

export async function connectPort(runner: ContainerExec, port: number): Promise<Duplex> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SandboxError('INVALID_ARGUMENT', `port ${port} is not a TCP port`, {
      hint: 'pass a port between 1 and 65535',
    });
  }
  const token = newToken();
  const { exec, stream } = await runner.start(['/bin/bash', '-c', bridgeScript(), 'sandbox-mcp-port', String(port)], {
    env: { [MARKER_ENV]: token },
    stdin: true,
  });
  let killed = false;
  const stop = () => {
    if (killed) return;
    killed = true;
    stream.destroy();
    // The reader may block on an idle keep-alive connection: end both copies inside the container.
    runner.kill(token, 'SIGKILL').catch(() => undefined);
  };
  const duplex = new Duplex({
    write(chunk: Buffer, _enc, callback) {
      stream.write(chunk, callback);
    },
    final(callback) {
      stream.end();
      callback();
    },
    read() {
      stream.resume();
    },
    destroy(err, callback) {
      stop();
      callback(err);
    },
  });
  return new Promise<Duplex>((resolve, reject) => {
    let connected = false;
    const timer = setTimeout(() => {
      stop();
      reject(
        new SandboxError(
          'TIMEOUT',
          `connecting to port ${port} in the sandbox took over ${CONNECT_TIMEOUT_MS / 1000} s`,
        ),
      );
    }, CONNECT_TIMEOUT_MS);
    runner
      .demux(
        stream,
        (data) => {
          if (!duplex.push(data)) stream.pause();
        },
        (data) => {
          if (!connected && data.toString().includes('ok')) {
            connected = true;
            clearTimeout(timer);
            resolve(duplex);
          }
        },
      )
      .then(async () => {
        clearTimeout(timer);
        if (connected) {
          duplex.push(null);
          killed = true;
          return;
        }
        const code = await runner.exitCode(exec).catch(() => null);
        reject(
          code === 7
            ? new SandboxError('NOT_FOUND', `nothing is listening on port ${port} inside the sandbox`, {
                hint: 'start the server first (shell_start) and wait until it prints that it listens',
              })
            : new SandboxError('INTERNAL', `port bridge to ${port} ended with exit code ${code}`),
        );
      }, reject);
  });
}
