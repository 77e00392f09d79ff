import { PROCESS_LIMIT_HINT } from '../shared/helper-errors.js';
import { SandboxError, type SandboxErrorCode } from '../../errors.js';

/**
 * The one place where Docker's failures become SandboxError codes: engine API errors from dockerode
 * (HTTP status + message), socket errors (engine missing or stopped), and the failures the in-container
 * helpers report (our tab-separated protocol line, or a coreutils message).
 */

/** What dockerode throws: an Error with the engine's HTTP status and JSON body, or a socket errno. */
interface DockerodeError extends Error {
  statusCode?: number;
  reason?: string;
  json?: { message?: string } | null;
  code?: string;
}

export interface ErrorContext {
  /** The engine address, named in "cannot reach the engine" errors. */
  dockerHost: string;
  image?: string;
  /** What we were doing, e.g. "creating the sandbox container". */
  doing?: string;
}

const SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

function engineMessage(dockerodeError: DockerodeError): string {
  const m = dockerodeError.json?.message ?? dockerodeError.message ?? String(dockerodeError);
  return m.replace(/^\(HTTP code \d+\) [a-z /-]+ - /, '').trim();
}

export function engineUnreachable(dockerHost: string, detail: string, cause?: unknown): SandboxError {
  return new SandboxError('UNAVAILABLE', `cannot reach the Docker engine at DOCKER_HOST=${dockerHost} (${detail})`, {
    hint: 'start Docker (systemctl start docker, or Docker Desktop), or point DOCKER_HOST / --docker-host at a running engine; sandbox-mcp retries on the next call',
    cause,
  });
}

export function translateDockerError(err: unknown, ctx: ErrorContext): SandboxError {
  if (err instanceof SandboxError) return err;
  const e = (err ?? {}) as DockerodeError;
  const doing = ctx.doing ? `${ctx.doing}: ` : '';
  if (e.code === 'EACCES') {
    return new SandboxError(
      'PERMISSION_DENIED',
      `${doing}no permission to use the Docker engine at DOCKER_HOST=${ctx.dockerHost}`,
      {
        hint: 'run sandbox-mcp as a user in the docker group, or point DOCKER_HOST at an engine it may use',
        cause: err,
      },
    );
  }
  if (e.code && SOCKET_ERRORS.has(e.code)) return engineUnreachable(ctx.dockerHost, e.code, err);
  const status = e.statusCode;
  const msg = engineMessage(e);
  if (status === undefined) {
    if (/socket hang up|connect|Unable to connect/i.test(msg)) return engineUnreachable(ctx.dockerHost, msg, err);
    return new SandboxError('INTERNAL', `${doing}${msg}`, { cause: err });
  }
  if (
    /no such image|pull access denied|repository does not exist/i.test(msg) ||
    (status === 404 && ctx.image && msg.includes(ctx.image))
  ) {
    return new SandboxError(
      'NOT_FOUND',
      `the sandbox image ${ctx.image ?? ''} is not available on the Docker engine at ${ctx.dockerHost}`.replace(
        '  ',
        ' ',
      ),
      {
        hint: 'build it first (README: "Docker provider: building a sandbox image"), or set SANDBOX_DOCKER_IMAGE to an image that exists',
        cause: err,
      },
    );
  }
  if (
    status === 404 ||
    /is not running|container stopped|is paused|is restarting|marked for removal|removal in progress/i.test(msg)
  ) {
    return new SandboxError('SANDBOX_GONE', `${doing}the sandbox container is gone (${msg})`, {
      hint: 'the next call starts a fresh sandbox',
      cause: err,
    });
  }
  const code: SandboxErrorCode =
    status === 400
      ? 'INVALID_ARGUMENT'
      : status === 401
        ? 'AUTH'
        : status === 403
          ? 'PERMISSION_DENIED'
          : status === 409
            ? 'ALREADY_EXISTS'
            : status === 503 || status === 502 || status === 504
              ? 'UNAVAILABLE'
              : 'INTERNAL';
  return new SandboxError(code, `${doing}Docker engine answered ${status}: ${msg}`, { cause: err });
}

/** The engine could not start a process in the container (runc's message is the only output). */
export function execStartFailed(output: string): SandboxError {
  const detail = output.trim().slice(0, 300) || 'no output';
  const pids = /init-p|resource temporarily unavailable|fork|pids/i.test(detail);
  return new SandboxError(
    pids ? 'LIMIT_EXCEEDED' : 'UNAVAILABLE',
    `the sandbox could not start the command: ${detail}`,
    {
      hint: pids
        ? PROCESS_LIMIT_HINT
        : 'the image must provide /bin/bash; if this persists, the sandbox is broken and ending the session gives a fresh one',
    },
  );
}
