import { z } from 'zod';
import { PROVIDERS } from '../config.js';
import { SANDBOX_ERROR_CODES } from '../errors.js';
import { pathSchema } from '../tools/files-common.js';
import { listOutput } from '../tools/files-manage.js';
import { writeOutput } from '../tools/files.js';
import { workspaceArg } from '../tools/sandbox.js';
import { execInput, execOutput } from '../tools/shell.js';

/**
 * What the REST routes validate and answer, built from the tools' own schemas so the API and the MCP
 * tools cannot drift apart; the OpenAPI document is generated from these same objects. Request bodies
 * and queries are strict: an unknown key (a typo, `__proto__`) is refused, not ignored.
 */

export const errorBody = z
  .object({
    error: z.object({
      code: z.enum(SANDBOX_ERROR_CODES).describe('The SandboxError code, the same the MCP tools report'),
      message: z.string().describe('What went wrong'),
      hint: z.string().optional().describe('How to recover'),
    }),
  })
  .meta({ id: 'Error' });

export const sandboxId = z
  .string()
  .min(1)
  .max(512)
  .describe('The sandbox id: an MCP sandbox handle (`sbx-...`), also usable as `sandbox` in MCP tool calls');

export const idParams = z.object({ id: sandboxId });

export const createBody = z
  .strictObject({
    workspace: workspaceArg,
    template: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe(
        "The template to start from; must be the server's own (E2B_TEMPLATE, DAYTONA_SNAPSHOT, SANDBOX_DOCKER_IMAGE) when given: templates are chosen per server",
      ),
  })
  .meta({ id: 'CreateSandbox' });

export const sandboxBody = z
  .object({
    id: sandboxId,
    provider: z.enum(PROVIDERS),
    status: z
      .enum(['running', 'stopped'])
      .describe(
        'stopped: the sandbox ended (crash, or idle in a workspace); the next exec or file call starts it again',
      ),
    created: z.string().nullable().describe('When the running sandbox was created (ISO 8601)'),
    workspace: z.string().nullable().describe('The named workspace it reaches, or null: a sandbox of its own'),
    template: z.string().nullable().describe('The template, snapshot or image sandboxes start from; null: local'),
    previewHost: z
      .string()
      .nullable()
      .describe(
        'Host serving the sandbox ports, `{port}` standing for the port (open it once a server listens there); null where each port needs its own link (MCP expose_port)',
      ),
  })
  .meta({ id: 'Sandbox' });

export const execBody = z
  .strictObject({
    command: execInput.command,
    cwd: execInput.cwd,
    timeout_s: execInput.timeout_s,
    env: execInput.env,
    stdin: execInput.stdin,
  })
  .meta({ id: 'ExecRequest' });

export const execResult = z.object(execOutput).meta({ id: 'ExecResult' });

export const listQuery = z.strictObject({
  path: pathSchema.optional().describe('Folder to list (default: the workdir, /workspace)'),
});

export const contentQuery = z.strictObject({ path: pathSchema });

export const listResult = z.object(listOutput).meta({ id: 'FileList' });

export const writeResult = z.object(writeOutput).meta({ id: 'WrittenFile' });
