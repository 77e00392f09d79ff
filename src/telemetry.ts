/**
 * What the server reports about itself. The MCP plumbing and the session manager call these hooks;
 * src/ops/metrics.ts turns them into Prometheus metrics. Tests and tools never depend on them.
 */
export interface Telemetry {
  toolCall(tool: string, ms: number, ok: boolean): void;
  sandboxCreated(ms: number, ok: boolean): void;
  sandboxEnded(reason: 'idle' | 'session-closed' | 'crashed' | 'shutdown'): void;
  sandboxesActive(n: number): void;
  commandRun(ms: number, exitCode: number | null, timedOut: boolean): void;
  orphansReaped(n: number): void;
}

export const noTelemetry: Telemetry = {
  toolCall: () => undefined,
  sandboxCreated: () => undefined,
  sandboxEnded: () => undefined,
  sandboxesActive: () => undefined,
  commandRun: () => undefined,
  orphansReaped: () => undefined,
};
