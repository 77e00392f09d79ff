import type { Config, ToolGroup } from '../config.js';
import type { ToolDefinition } from '../mcp/tool.js';
import { toolNamer, type ToolNamer } from '../mcp/tool-names.js';
import { browserTools } from './browser.js';
import { fileTools } from './files.js';
import { deployTools } from './deploy.js';
import { sandboxTools } from './sandbox.js';
import { shellTools } from './shell.js';
import { webdevTools } from './webdev.js';

/** The tools of each group SANDBOX_TOOLS names, in the order clients list them. */
export const toolGroups: Record<ToolGroup, ToolDefinition[]> = {
  sandbox: sandboxTools,
  shell: shellTools,
  files: fileTools,
  browser: browserTools,
  webdev: webdevTools,
  deploy: deployTools,
};

/** Every tool the server can offer, in the order clients list them. */
export const allTools: ToolDefinition[] = Object.values(toolGroups).flat();

/** The tools this configuration serves (SANDBOX_TOOLS), and the names they are served under. */
export function servedTools(config: Pick<Config, 'toolGroups' | 'toolPrefix'>): {
  tools: ToolDefinition[];
  names: ToolNamer;
} {
  return {
    tools: allTools.filter((t) => config.toolGroups.some((g) => toolGroups[g].includes(t))),
    names: toolNamer(
      config.toolPrefix,
      allTools.map((t) => t.name),
    ),
  };
}
