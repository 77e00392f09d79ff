import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stderr. stdout is reserved for JSON-RPC in stdio mode, so the destination is fd 2,
 * written synchronously so that a crash or hard exit does not lose the last lines.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
