import { z } from 'zod';
import { defineTool, ok } from '../mcp/tool.js';

export const sandboxTools = [
  defineTool({
    name: 'sandbox_info',
    title: 'Sandbox info',
    description:
      'Describe this session\'s sandbox: provider, id, workdir, isolation, network access, resource limits and when it expires if left idle. ' +
      'Starts the sandbox if it is not running yet. Call it when you need to know whether the network is reachable or how long commands may run.',
    inputSchema: {},
    outputSchema: {
      provider: z.string(),
      providerReason: z.string(),
      id: z.string(),
      workdir: z.string(),
      isolation: z.string(),
      network: z.string(),
      limits: z.record(z.string(), z.union([z.string(), z.number()])),
      createdAt: z.string(),
      idleTimeoutS: z.number(),
      expiresAt: z.string().nullable(),
      workspace: z.object({ name: z.string(), sessions: z.number(), ttlS: z.number() }).nullable()
        .describe('The named workspace this session shares, or null: a sandbox of its own'),
      egress: z.object({
        proxy: z.string(), allow: z.array(z.string()), bytesUp: z.number(), bytesDown: z.number(),
        allowed: z.number(), refused: z.number(), openConnections: z.number(),
      }).nullable().describe('SANDBOX_NETWORK=egress: the proxy commands use, the host names it allows, and this sandbox\'s traffic through it; null otherwise'),
      warnings: z.array(z.string()),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx) {
      const sb = await ctx.session.sandbox();
      const d = ctx.session.provider.describe();
      const ws = ctx.session.workspaceShare;
      // A workspace's sandbox outlives this session's idleness by the workspace TTL.
      const lifetimeS = ctx.config.idleTimeoutS + (ws ? ctx.config.workspaceTtlS : 0);
      const info = {
        provider: d.provider,
        providerReason: ctx.config.providerReason,
        id: sb.id,
        workdir: sb.workdir,
        isolation: d.isolation,
        network: d.network,
        limits: d.limits,
        createdAt: sb.createdAt.toISOString(),
        idleTimeoutS: ctx.config.idleTimeoutS,
        // While this call runs the idle clock is stopped; it restarts when the call returns.
        expiresAt: new Date(Date.now() + lifetimeS * 1000).toISOString(),
        workspace: ws ? { ...ws, ttlS: ctx.config.workspaceTtlS } : null,
        egress: sb.egress?.() ?? null,
        warnings: d.warnings,
      };
      const text = [
        `Sandbox ${info.id} (${info.provider}: ${info.providerReason})`,
        `workdir: ${info.workdir}`,
        `isolation: ${info.isolation}`,
        `network: ${info.network}`,
        ...(info.egress ? [`egress: proxy ${info.egress.proxy}; ${info.egress.bytesUp} bytes up, ${info.egress.bytesDown} down; ${info.egress.allowed} allowed, ${info.egress.refused} refused; ${info.egress.openConnections} open`] : []),
        `limits: ${Object.entries(info.limits).map(([k, v]) => `${k}=${v}`).join(', ')}`,
        info.workspace
          ? `workspace "${info.workspace.name}": shared by ${info.workspace.sessions} session(s); kept ${info.workspace.ttlS} s after the last one leaves (at ${info.expiresAt} if unused)`
          : `expires after ${info.idleTimeoutS} s idle (at ${info.expiresAt} if unused)`,
        ...info.warnings.map((w) => `warning: ${w}`),
      ].join('\n');
      return ok(info, text);
    },
  }),
];
