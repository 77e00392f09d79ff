import type { ToolDefinition } from '../mcp/tool.js';
import { fileTools } from './files.js';
import { sandboxTools } from './sandbox.js';
import { shellTools } from './shell.js';

/** Every tool the server offers, in the order clients list them. */
export const allTools: ToolDefinition[] = [...sandboxTools, ...shellTools, ...fileTools];
