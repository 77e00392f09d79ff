import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { chromiumMissing } from './browser-helpers.js';
import { call, CLI, startHttpServer, stdioClient, tempDir, text } from './helpers.js';
import { modernHttpClient } from './modern-helpers.js';

/**
 * The model-facing surface as served: every schema portable (compiles with Ajv2020, none of the
 * keywords other frameworks refuse, every property described), the whole list within the context
 * budget, and the client frameworks nobody here wrote accepting all of it.
 */
const BUDGET_CHARS = 20_000;
const FORBIDDEN = ['$schema', 'propertyNames', 'exclusiveMinimum', 'exclusiveMaximum', 'nullable'];
const require = createRequire(import.meta.url);
const ENV = { SANDBOX_WARM_POOL: '0', LOG_LEVEL: 'warn' };

/** Every schema node below `schema`, with its path. */
function* nodes(schema: unknown, at = ''): Generator<[string, Record<string, unknown>]> {
  if (!schema || typeof schema !== 'object') return;
  const node = schema as Record<string, unknown>;
  yield [at, node];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' || key === '$defs')
      for (const [name, sub] of Object.entries(value as object)) yield* nodes(sub, `${at}.${name}`);
    else if (key === 'items' || key === 'additionalProperties') yield* nodes(value, `${at}[]`);
    else if (key === 'anyOf' || key === 'oneOf' || key === 'allOf')
      for (const [i, sub] of (value as unknown[]).entries()) yield* nodes(sub, `${at}|${i}`);
  }
}

function surfaceChars(tools: Tool[]): number {
  return tools.reduce(
    (n, t) => n + t.name.length + (t.description ?? '').length + JSON.stringify(t.inputSchema).length,
    0,
  );
}

describe('the served tool list', () => {
  let client: Client;
  let tools: Tool[];
  let state: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    state = tempDir();
    ({ client } = await stdioClient({ ...ENV, SANDBOX_STATE_DIR: state.dir }));
    ({ tools } = await client.listTools());
  });
  afterAll(async () => {
    await client?.close();
    state?.cleanup();
  });

  it('is portable: every schema compiles with Ajv2020 as served, with no forbidden keyword or type array', () => {
    const ajv = new Ajv2020({ strict: false });
    const problems: string[] = [];
    for (const tool of tools) {
      for (const [kind, schema] of [
        ['input', tool.inputSchema],
        ['output', tool.outputSchema],
      ] as const) {
        if (!schema) continue;
        try {
          ajv.compile(schema);
        } catch (e) {
          problems.push(`${tool.name} ${kind}: ${(e as Error).message}`);
        }
        for (const [at, node] of nodes(schema)) {
          for (const key of FORBIDDEN) if (key in node) problems.push(`${tool.name} ${kind}${at}: ${key}`);
          if (Array.isArray(node.type)) problems.push(`${tool.name} ${kind}${at}: type array`);
          // A map-typed input (additionalProperties with a schema) is what strict converters refuse.
          if (kind === 'input' && node.additionalProperties && node.additionalProperties !== false)
            problems.push(`${tool.name} input${at}: map-typed additionalProperties`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(tools.length).toBeGreaterThanOrEqual(48);
  });

  it('describes every tool and every input property', () => {
    const undescribed: string[] = [];
    for (const tool of tools) {
      if (!tool.description) undescribed.push(tool.name);
      for (const [at, node] of nodes(tool.inputSchema))
        if (at && !at.endsWith('[]') && !node.description) undescribed.push(`${tool.name}${at}`);
    }
    expect(undescribed).toEqual([]);
  });

  it(`costs at most ${BUDGET_CHARS} characters of names, descriptions and input schemas`, () => {
    const chars = surfaceChars(tools);
    console.log(`tools/list: ${tools.length} tools, ${chars} characters of names, descriptions and input schemas`);
    expect(chars).toBeLessThanOrEqual(BUDGET_CHARS);
  });

  it('says what a model must do: a missing argument names what the tool takes', async () => {
    const r = await call(client, 'shell_exec', {});
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/missing required argument.*shell_exec takes command, cwd, env, timeout_s, stdin/);
    expect(text(r)).not.toMatch(/received undefined/);
  });

  it('coerces numbers and booleans sent as strings, and takes env as KEY=VALUE strings or the old object', async () => {
    const r = await call(client, 'shell_exec', {
      command: 'echo "$A $B"',
      timeout_s: '30',
      env: ['A=one', 'B=x=y'],
    });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent!.stdout).toBe('one x=y\n');
    const old = await call(client, 'shell_exec', { command: 'echo "$A"', env: { A: 'object form' } });
    expect(old.structuredContent!.stdout).toBe('object form\n');
    const pairs = await call(client, 'shell_exec', { command: 'echo "$A"', env: [{ name: 'A', value: 'pair' }] });
    expect(pairs.structuredContent!.stdout).toBe('pair\n');
    const list = await call(client, 'file_list', { depth: '1', include_hidden: 'true' });
    expect(list.isError).toBeFalsy();
    const bad = await call(client, 'shell_exec', { command: 'true', timeout_s: 'soon' });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/timeout_s/);
  });

  it('leaves out what is absent instead of sending null (optional fields, no type arrays)', async () => {
    const r = await call(client, 'shell_exec', { command: 'exit 3' });
    expect(r.structuredContent).toMatchObject({ exitCode: 3 });
    expect(JSON.stringify(r.structuredContent)).not.toContain('null');
  });

  it('shell_kill on a process that has ended says so instead of "Sent SIGTERM"', async () => {
    const started = await call(client, 'shell_start', { command: 'echo done' });
    const processId = started.structuredContent!.processId as string;
    await call(client, 'shell_read', { processId, wait_s: 5, until: 'done' });
    await new Promise((r) => setTimeout(r, 300));
    const killed = await call(client, 'shell_kill', { processId });
    expect(killed.isError).toBeFalsy();
    expect(text(killed)).toMatch(/had already ended, so no signal was sent/);
    expect(text(killed)).not.toMatch(/Sent SIGTERM/);
  });

  it('annotations say the truth: what runs code or changes state is destructive, what reaches out is open-world', () => {
    const by = new Map(tools.map((t) => [t.name, t.annotations ?? {}]));
    for (const name of ['shell_exec', 'shell_start', 'webdev_start', 'browser_evaluate', 'browser_click'])
      expect(by.get(name), name).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(by.get('expose_port')).toMatchObject({ openWorldHint: true });
  });
});

describe('tool names and groups', () => {
  it('SANDBOX_TOOL_PREFIX prefixes every tool, and descriptions and hints name the prefixed tools', async () => {
    const state = tempDir();
    const { client } = await stdioClient({ ...ENV, SANDBOX_STATE_DIR: state.dir, SANDBOX_TOOL_PREFIX: 'sandbox_' });
    try {
      const { tools } = await client.listTools();
      expect(tools.every((t) => t.name.startsWith('sandbox_'))).toBe(true);
      const exec = tools.find((t) => t.name === 'sandbox_shell_exec')!;
      expect(exec.description).toContain('sandbox_shell_start');
      expect(JSON.stringify(tools.find((t) => t.name === 'sandbox_shell_read')!.inputSchema)).toContain(
        'sandbox_shell_start',
      );
      // A hint written deep in the code (a provider's error) names the served tool.
      const gone = await call(client, 'sandbox_shell_read', { processId: 'proc-999' });
      expect(gone.isError).toBe(true);
      expect(text(gone)).toMatch(/sandbox_shell_(list|start)/);
      expect(text(gone)).not.toMatch(/(?<![\w])shell_(list|start)/);
      const started = await call(client, 'sandbox_shell_start', { command: 'sleep 30' });
      expect(text(started)).toContain('sandbox_shell_read');
      expect(text(await call(client, 'sandbox_webdev_list'))).toContain('Create one with sandbox_webdev_create');
    } finally {
      await client.close();
      state.cleanup();
    }
  });

  it('the prefix holds over HTTP for a 2026-07-28 client: handles, calls and the Mcp-Name header', async () => {
    const state = tempDir();
    const server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir, SANDBOX_TOOL_PREFIX: 'sbx_' });
    const { client } = await modernHttpClient(server.url);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('sbx_sandbox_create');
      // Without a handle, the error names the prefixed tool that makes one.
      const orphan = await call(client, 'sbx_shell_exec', { command: 'true' });
      expect(orphan.isError).toBe(true);
      expect(text(orphan)).toContain('sbx_sandbox_create');
      const created = await call(client, 'sbx_sandbox_create', {});
      const sandbox = created.structuredContent!.sandbox as string;
      const echoed = await call(client, 'sbx_shell_exec', { command: 'echo prefixed', sandbox });
      expect(echoed.structuredContent).toMatchObject({ exitCode: 0, stdout: 'prefixed\n' });
      // The unprefixed name is not served.
      await expect(client.callTool({ name: 'shell_exec', arguments: { command: 'true', sandbox } })).rejects.toThrow(
        /shell_exec not found/,
      );
    } finally {
      await client.close();
      await server.stop();
      state.cleanup();
    }
  });

  it('SANDBOX_TOOLS serves only the named groups (sandbox always), and the list gets smaller', async () => {
    const state = tempDir();
    const { client } = await stdioClient({ ...ENV, SANDBOX_STATE_DIR: state.dir }, ['--tools', 'shell,files']);
    try {
      const { tools } = await client.listTools();
      const groups = new Set(tools.map((t) => t.name.split('_')[0]));
      expect([...groups].sort()).toEqual(['file', 'sandbox', 'shell']);
      expect(surfaceChars(tools)).toBeLessThan(10_000);
    } finally {
      await client.close();
      state.cleanup();
    }
  });

  it('refuses an unknown group at start-up with the list of groups', () => {
    const r = spawnSync(process.execPath, [CLI, '--tools', 'shell,gpu'], {
      encoding: 'utf8',
      env: { ...process.env, ...ENV },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--tools.*sandbox, shell, files, browser, webdev, deploy/);
  });

  it.skipIf(chromiumMissing())(
    'browser_click before any page says to navigate first, not to take a snapshot',
    async () => {
      const state = tempDir();
      const { client } = await stdioClient({ ...ENV, SANDBOX_STATE_DIR: state.dir });
      try {
        const r = await call(client, 'browser_click', { ref: 'f1e2' });
        expect(r.isError).toBe(true);
        expect(text(r)).toMatch(/this tab is blank.*browser_navigate first/s);
        expect(text(r)).not.toMatch(/not in the latest snapshot/);
      } finally {
        await client.close();
        state.cleanup();
      }
    },
  );
});

describe('client frameworks (offline)', () => {
  it('the OpenAI Agents SDK converts every tool to strict mode', async () => {
    const { MCPServerStdio, getAllMcpTools } = await import('@openai/agents-core');
    const state = tempDir();
    const server = new MCPServerStdio({
      command: process.execPath,
      args: [CLI],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        ...ENV,
        SANDBOX_STATE_DIR: state.dir,
      },
    });
    await server.connect();
    try {
      const tools = await getAllMcpTools({ mcpServers: [server], convertSchemasToStrict: true });
      const loose = tools.filter((t) => !(t as { strict?: boolean }).strict).map((t) => t.name);
      console.log(`OpenAI Agents SDK: ${tools.length - loose.length} of ${tools.length} tools strict`);
      expect(loose).toEqual([]);
      expect(tools.length).toBeGreaterThanOrEqual(48);
    } finally {
      await server.close();
      state.cleanup();
    }
  });

  it("@google/genai's mcpToTool takes us beside @playwright/mcp with the prefix set", async () => {
    const { mcpToTool } = await import('@google/genai');
    const state = tempDir();
    const ours = new Client({ name: 'genai-test', version: '1' });
    await ours.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI],
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/root',
          ...ENV,
          SANDBOX_STATE_DIR: state.dir,
          SANDBOX_TOOL_PREFIX: 'sandbox_',
        },
        stderr: 'ignore',
      }),
    );
    const playwright = new Client({ name: 'genai-test', version: '1' });
    await playwright.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [path.join(path.dirname(require.resolve('@playwright/mcp/package.json')), 'cli.js'), '--headless'],
        stderr: 'ignore',
      }),
    );
    try {
      const tool = await mcpToTool(ours, playwright).tool();
      const names = (tool.functionDeclarations ?? []).map((f) => f.name);
      expect(names).toContain('sandbox_browser_click');
      expect(names).toContain('browser_click');
      // Unprefixed, the same pair clashes: the reason the prefix exists.
      const clash = new Client({ name: 'genai-test', version: '1' });
      await clash.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: [CLI],
          env: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? '/root',
            ...ENV,
            SANDBOX_STATE_DIR: state.dir,
          },
          stderr: 'ignore',
        }),
      );
      await expect(mcpToTool(clash, playwright).tool()).rejects.toThrow(/Duplicate function name browser_/);
      await clash.close();
    } finally {
      await ours.close();
      await playwright.close();
      state.cleanup();
    }
  });

  // The Python SDK validates every structured result against the output schema (jsonschema) and raises
  // on a mismatch. Its package comes from pip: SANDBOX_TEST_PYTHON names a python that has it.
  const python = process.env.SANDBOX_TEST_PYTHON || 'python3';
  const noPythonSdk =
    spawnSync(python, ['-c', 'import mcp.client.stdio'], { stdio: 'ignore' }).status === 0
      ? undefined
      : `${python} has no MCP SDK (pip install mcp, or set SANDBOX_TEST_PYTHON to a python that has it)`;
  if (noPythonSdk) console.warn(`skipped: ${noPythonSdk}`);
  it.skipIf(noPythonSdk)('the Python MCP SDK validates every result against its output schema, big ones too', () => {
    const state = tempDir();
    try {
      const script = new URL('./python/validate_outputs.py', import.meta.url).pathname;
      const r = spawnSync(python, [script, process.execPath, CLI], {
        encoding: 'utf8',
        cwd: state.dir,
        env: { ...process.env, SANDBOX_STATE_DIR: state.dir },
        timeout: 120_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const calls = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { tool: string; isError: boolean; chars: number });
      expect(calls.length).toBe(13);
      expect(calls.filter((c) => c.isError)).toEqual([]);
      expect(Math.max(...calls.map((c) => c.chars))).toBeLessThanOrEqual(33 * 1024);
    } finally {
      state.cleanup();
    }
  });

  it("MCP Inspector 2.12's --strict portability check finds nothing", () => {
    let launcher: string;
    try {
      launcher = path.join(
        path.dirname(require.resolve('@modelcontextprotocol/inspector/package.json')),
        'clients/cli/build/index.js',
      );
    } catch {
      console.warn('skipped: @modelcontextprotocol/inspector is not installed (npm ci installs it)');
      return;
    }
    const state = tempDir();
    try {
      const r = spawnSync(
        process.execPath,
        [
          launcher,
          '--method',
          'tools/list',
          '--strict',
          '-e',
          `SANDBOX_STATE_DIR=${state.dir}`,
          '-e',
          'SANDBOX_WARM_POOL=0',
          process.execPath,
          CLI,
        ],
        { encoding: 'utf8', env: { ...process.env, HOME: state.dir }, timeout: 60_000 },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/Warning: tool|Error: tool/);
      expect(JSON.parse(r.stdout).tools.length).toBeGreaterThanOrEqual(48);
    } finally {
      state.cleanup();
    }
  });
});
