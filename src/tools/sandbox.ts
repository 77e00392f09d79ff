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
      warnings: z.array(z.string()),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx) {
      const sb = await ctx.session.sandbox();
      const d = ctx.session.provider.describe();
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
        expiresAt: new Date(Date.now() + ctx.config.idleTimeoutS * 1000).toISOString(),
        warnings: d.warnings,
      };
      const text = [
        `Sandbox ${info.id} (${info.provider}: ${info.providerReason})`,
        `workdir: ${info.workdir}`,
        `isolation: ${info.isolation}`,
        `network: ${info.network}`,
        `limits: ${Object.entries(info.limits).map(([k, v]) => `${k}=${v}`).join(', ')}`,
        `expires after ${info.idleTimeoutS} s idle (at ${info.expiresAt} if unused)`,
        ...info.warnings.map((w) => `warning: ${w}`),
      ].join('\n');
      return ok(info, text);
    },
  }),
];
