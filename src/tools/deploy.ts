import { z } from 'zod';
import { collectFolder } from '../deploy/collect.js';
import { checkSiteName } from '../deploy/store.js';
import { defineTool, ok } from '../mcp/tool.js';

const siteName = z.string().min(1).max(63).describe('Site name (a DNS label), e.g. "my-blog"');
const versionShape = {
  version: z.string(),
  createdAt: z.string(),
  fileCount: z.number(),
  totalBytes: z.number(),
  live: z.boolean(),
  source: z.string(),
};

const kb = (count: number) =>
  count < 1024
    ? `${count} B`
    : count < 1048576
      ? `${(count / 1024).toFixed(1)} KiB`
      : `${(count / 1048576).toFixed(1)} MiB`;

export const deployTools = [
  defineTool({
    name: 'deploy_site',
    title: 'Publish a static site',
    description:
      'Publish a folder holding index.html as a site with a durable URL. Each call adds a live version (deploy_rollback goes back). Names other owners hold are refused.',
    inputSchema: {
      path: z.string().min(1).describe('Folder to publish, e.g. "my-app/dist"'),
      name: siteName,
    },
    outputSchema: {
      name: z.string(),
      url: z.string(),
      version: z.string(),
      fileCount: z.number(),
      totalBytes: z.number(),
      skipped: z.array(z.string()),
      hasIndex: z.boolean(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(ctx, args) {
      checkSiteName(args.name);
      const actor = await ctx.sites.actorFor(ctx.session.principal);
      // Before reading the folder: a name that belongs to someone else is refused at once.
      await ctx.sites.checkOwner(args.name, actor);
      const sb = await ctx.session.sandbox();
      const c = await collectFolder(sb, args.path, {
        maxBytes: ctx.config.deployMaxMb * 1048576,
        maxFiles: ctx.config.deployMaxFiles,
      });
      // The URL first: if it cannot be served, publish nothing rather than report a failure after a deploy.
      const url = await ctx.sites.url(args.name);
      // The source is the folder alone: the sandbox id behind preview URLs must not outlive the session in the store.
      const v = await ctx.sites.publish(args.name, c.files, c.root, actor);
      const hasIndex = c.files.some((f) => f.path === 'index.html');
      const notes = [
        `Published ${c.root} as ${args.name} ${v.version} (${v.fileCount} files, ${kb(v.totalBytes)}), now live at ${url}`,
        ...(hasIndex ? [] : ['Warning: no index.html at the top of the folder, so the site root shows a 404 page.']),
        ...(c.skipped.length ? [`Skipped ${c.skipped.length}: ${c.skipped.slice(0, 10).join('; ')}`] : []),
        `${ctx.tool('deploy_list')} shows versions; ${ctx.tool('deploy_rollback')} switches the live one.`,
      ];
      return ok(
        {
          name: args.name,
          url,
          version: v.version,
          fileCount: v.fileCount,
          totalBytes: v.totalBytes,
          skipped: c.skipped,
          hasIndex,
        },
        notes.join('\n'),
      );
    },
  }),

  defineTool({
    name: 'deploy_list',
    title: 'List deployed sites',
    description: 'List your deployed sites, or one: URL, versions, which is live.',
    inputSchema: { name: siteName.optional() },
    outputSchema: {
      sites: z.array(
        z.object({
          name: z.string(),
          url: z.string(),
          live: z.string().optional(),
          versions: z.array(z.object(versionShape)),
        }),
      ),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      const sites = await ctx.sites.list(args.name, await ctx.sites.actorFor(ctx.session.principal));
      const text = sites.length
        ? sites
            .map((siteInfo) =>
              [
                `${siteInfo.name}: ${siteInfo.url} (live ${siteInfo.live})`,
                ...siteInfo.versions.map(
                  (versionInfo) =>
                    `  ${versionInfo.version}${versionInfo.live ? ' [live]' : ''} ${versionInfo.createdAt} ${versionInfo.fileCount} files ${kb(versionInfo.totalBytes)}`,
                ),
              ].join('\n'),
            )
            .join('\n')
        : `No sites of yours yet (${ctx.tool('deploy_list')} shows only the sites of this workspace, or of this session when it has none). Publish a folder with ${ctx.tool('deploy_site')}.`;
      return ok({ sites }, text);
    },
  }),

  defineTool({
    name: 'deploy_rollback',
    title: 'Switch the live version of a site',
    description: 'Make another version of a site live; nothing is deleted.',
    inputSchema: {
      name: siteName,
      version: z.string().min(1).describe('Version, e.g. "v2"'),
    },
    outputSchema: { name: z.string(), url: z.string(), ...versionShape },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      const v = await ctx.sites.rollback(args.name, args.version, await ctx.sites.actorFor(ctx.session.principal));
      const url = await ctx.sites.url(args.name);
      return ok({ name: args.name, url, ...v }, `${args.name} now serves ${v.version} (${v.createdAt}) at ${url}`);
    },
  }),

  defineTool({
    name: 'deploy_delete',
    title: 'Delete a deployed site',
    description: 'Delete a site and all its versions; no undo.',
    inputSchema: { name: siteName },
    outputSchema: { name: z.string(), deletedVersions: z.number() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    async handler(ctx, args) {
      const r = await ctx.sites.remove(args.name, await ctx.sites.actorFor(ctx.session.principal));
      return ok(
        { name: args.name, deletedVersions: r.versions },
        `Deleted site ${args.name} (${r.versions} versions).`,
      );
    },
  }),
];
