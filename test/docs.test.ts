import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { OPTIONS } from '../src/config.js';

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('documents every option with its env var and flag', () => {
    for (const o of Object.values(OPTIONS) as { env?: string; flag?: string }[]) {
      if (o.env) expect(readme, `README lacks ${o.env}`).toContain(`\`${o.env}\``);
      if (o.flag) expect(readme, `README lacks ${o.flag}`).toContain(`\`${o.flag}\``);
    }
  });

  it("states each option's default as the config has it", () => {
    for (const o of Object.values(OPTIONS) as {
      env?: string;
      flag?: string;
      schema: { safeParse(v: unknown): { success: boolean; data?: unknown } };
    }[]) {
      const r = o.schema.safeParse(undefined);
      if (!o.env || !o.flag || !r.success || r.data === undefined) continue;
      const def = Array.isArray(r.data) ? (r.data.length ? r.data.join(',') : 'none') : String(r.data);
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${o.env}\``));
      expect(row?.split('|').map((c) => c.trim())[4], `README default of ${o.env}`).toBe(def);
    }
  });

  it('keeps the two-command quick start', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});

describe('client configs in the docs', () => {
  const repo = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
  const example = JSON.parse(readFileSync(new URL('../mcp.json.example', import.meta.url), 'utf8')) as {
    mcpServers: Record<
      string,
      { command?: string; args?: string[]; env?: Record<string, string>; type?: string; url?: string }
    >;
  };

  it("mcp.json.example's stdio entry, pointed at this clone, starts a server that lists the tools", async () => {
    const entry = Object.values(example.mcpServers).find((e) => e.command)!;
    const args = (entry.args ?? []).map((a) => a.replace('/path/to/sandbox-mcp', repo));
    const transport = new StdioClientTransport({
      command: entry.command === 'node' ? process.execPath : entry.command!,
      args,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        SANDBOX_WARM_POOL: '0',
        ...entry.env,
      },
      stderr: 'ignore',
    });
    const client = new Client({ name: 'docs-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(
        expect.arrayContaining(['shell_exec', 'file_read', 'browser_navigate', 'webdev_start', 'deploy_site']),
      );
    } finally {
      await client.close();
    }
  });

  it("mcp.json.example's HTTP entry points at the default npm start address", () => {
    const http = Object.values(example.mcpServers).find((e) => e.type === 'http')!;
    expect(http.url).toBe('http://127.0.0.1:3939/mcp');
    expect(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).toContain(
      '"start": "node dist/cli.js --port 3939"',
    );
  });
});
