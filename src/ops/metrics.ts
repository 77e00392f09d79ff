import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EgressTotals } from '../egress/service.js';
import type { Telemetry } from '../telemetry.js';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Prometheus metrics for /metrics. The seed's success rates follow from them, e.g. creation success
 * rate = sandbox_creations_total{result="ok"} / sum(sandbox_creations_total).
 */
export class Metrics implements Telemetry {
  readonly registry = new Registry();
  private readonly active = new Gauge({
    name: 'sandbox_mcp_sandboxes_active',
    help: 'Sandboxes alive now',
    registers: [this.registry],
  });
  private readonly creations = new Counter({
    name: 'sandbox_mcp_sandbox_creations_total',
    help: 'Sandbox creations by result',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly creationSeconds = new Histogram({
    name: 'sandbox_mcp_sandbox_creation_seconds',
    help: 'Time to create a sandbox',
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly ended = new Counter({
    name: 'sandbox_mcp_sandboxes_ended_total',
    help: 'Sandboxes ended, by reason (idle = idle reaps)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly toolCalls = new Counter({
    name: 'sandbox_mcp_tool_calls_total',
    help: 'Tool calls by tool and result',
    labelNames: ['tool', 'result'],
    registers: [this.registry],
  });
  private readonly toolSeconds = new Histogram({
    name: 'sandbox_mcp_tool_duration_seconds',
    help: 'Tool call duration',
    labelNames: ['tool'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly commandSeconds = new Histogram({
    name: 'sandbox_mcp_command_duration_seconds',
    help: 'shell_exec command duration',
    labelNames: ['outcome'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly orphans = new Counter({
    name: 'sandbox_mcp_orphans_reaped_total',
    help: 'Sandboxes of dead servers reaped at start-up',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'sandbox_mcp_' });
  }

  /**
   * SANDBOX_NETWORK=egress: the proxy's totals, read at each scrape. Labelled by verdict and a fixed set
   * of reasons, never by sandbox or host: sandbox ids come and go without bound (sandbox_info has the
   * per-sandbox figures, the JSON log each decision).
   */
  watchEgress(read: () => EgressTotals | undefined): void {
    const registers = [this.registry];
    new Counter({
      name: 'sandbox_mcp_egress_requests_total',
      help: 'Egress proxy decisions, by verdict and reason',
      labelNames: ['verdict', 'reason'],
      registers,
      collect() {
        const totals = read();
        this.reset();
        for (const [reason, n] of Object.entries(totals?.requests ?? {}))
          this.inc({ verdict: reason === 'allowed' ? 'allowed' : 'refused', reason }, n);
      },
    });
    new Counter({
      name: 'sandbox_mcp_egress_bytes_total',
      help: 'Bytes through the egress proxy: up = sent by sandboxes, down = received by them',
      labelNames: ['direction'],
      registers,
      collect() {
        const totals = read();
        this.reset();
        this.inc({ direction: 'up' }, totals?.bytesUp ?? 0);
        this.inc({ direction: 'down' }, totals?.bytesDown ?? 0);
      },
    });
    new Gauge({
      name: 'sandbox_mcp_egress_connections_open',
      help: 'Egress proxy connections open now, all sandboxes together',
      registers,
      collect() {
        this.set(read()?.openConnections ?? 0);
      },
    });
  }

  /** The warm pool's figures, read at each scrape. */
  watchPool(read: () => { ready: number; starting: number; target: number } | undefined): void {
    const registers = [this.registry];
    const figures = {
      ready: 'Sandboxes started and waiting in the warm pool',
      starting: 'Warm pool sandboxes starting now',
      target: 'What the warm pool aims for: SANDBOX_WARM_POOL, or the largest recent burst up to SANDBOX_WARM_POOL_MAX',
    } as const;
    for (const [figure, help] of Object.entries(figures)) {
      new Gauge({
        name: `sandbox_mcp_warm_pool_${figure}`,
        help,
        registers,
        collect() {
          this.set(read()?.[figure as keyof typeof figures] ?? 0);
        },
      });
    }
  }

  toolCall(tool: string, ms: number, ok: boolean): void {
    this.toolCalls.inc({ tool, result: ok ? 'ok' : 'error' });
    this.toolSeconds.observe({ tool }, ms / 1000);
  }

  sandboxCreated(ms: number, ok: boolean): void {
    this.creations.inc({ result: ok ? 'ok' : 'error' });
    if (ok) this.creationSeconds.observe(ms / 1000);
  }

  sandboxEnded(reason: string): void {
    this.ended.inc({ reason });
  }

  sandboxesActive(count: number): void {
    this.active.set(count);
  }

  commandRun(ms: number, exitCode: number | null, timedOut: boolean): void {
    this.commandSeconds.observe({ outcome: timedOut ? 'timeout' : exitCode === 0 ? 'ok' : 'nonzero' }, ms / 1000);
  }

  orphansReaped(count: number): void {
    this.orphans.inc(count);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
