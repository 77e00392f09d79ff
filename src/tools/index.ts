import type { ToolDefinition } from '../mcp/tool.js';
import { browserTools } from './browser.js';
import { fileTools } from './files.js';
import { deployTools } from './deploy.js';
import { sandboxTools } from './sandbox.js';
import { shellTools } from './shell.js';
import { webdevTools } from './webdev.js';

/** Every tool the server offers, in the order clients list them. */
export const allTools: ToolDefinition[] = [
  ...sandboxTools,
  ...shellTools,
  ...fileTools,
  ...browserTools,
  ...webdevTools,
  ...deployTools,
];
