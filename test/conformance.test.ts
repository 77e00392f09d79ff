import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, tempDir, type HttpServer } from './helpers.js';

/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance) against the built server, for
 * both revisions it serves. The suite needs Node.js 22; scripts/conformance-install.sh puts it and a
 * Node 22 from the npm registry in .conformance/ (or $SANDBOX_CONFORMANCE_DIR). Without them these
 * tests skip and say so.
 */

const CONFORMANCE_VERSION = '0.2.0-alpha.12';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIR = path.resolve(ROOT, process.env.SANDBOX_CONFORMANCE_DIR || '.conformance');
const NODE22 = path.join(DIR, 'node_modules', '.bin', 'node');
const SUITE = path.join(DIR, 'node_modules', '@modelcontextprotocol', 'conformance');
/** Checks that need the suite's own fixture tools, or features this server does not serve (see the file). */
const BASELINE = path.join(ROOT, 'test', 'conformance-baseline.yml');

/** 2026-07-28: the stateless revision's scenarios for what this server serves. */
const MODERN = [
  'server-stateless',
  'tools-list',
  'http-header-validation',
  'caching',
  'dns-rebinding-protection',
  'server-sse-multiple-streams',
];
/** 2025-11-25: the scenarios the server passed before it served 2026-07-28 (the others need fixture tools, prompts or resources). */
const LEGACY = [
  'server-initialize',
  'server-session-lifecycle',
  'logging-set-level',
  'ping',
  'tools-list',
  'tools-call-simple-text',
  'tools-call-error',
  'server-sse-multiple-streams',
  'dns-rebinding-protection',
];

function unavailable(): string | undefined {
  if (!existsSync(NODE22) || !existsSync(path.join(SUITE, 'dist', 'index.js'))) {
    return `the conformance suite is not installed in ${DIR} (run scripts/conformance-install.sh: it needs the npm registry)`;
  }
  const v = spawnSync(NODE22, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0 || Number(/^v(\d+)/.exec(v.stdout)?.[1] ?? 0) < 22)
    return `${NODE22} is not Node.js 22 or later (${v.stdout.trim() || v.stderr.trim()})`;
  const installed = (JSON.parse(readFileSync(path.join(SUITE, 'package.json'), 'utf8')) as { version: string }).version;
  if (installed !== CONFORMANCE_VERSION)
    return `conformance ${installed} is installed, these tests expect ${CONFORMANCE_VERSION} (run scripts/conformance-install.sh)`;
  return undefined;
}

const skip = unavailable();
if (skip) console.warn(`[conformance] skipped: ${skip}`);

/** One scenario: the suite's exit code is 0 when every check passed or is an expected failure. */
function runScenario(
  url: string,
  specVersion: string,
  scenario: string,
  outDir: string,
): { status: number | null; output: string } {
  const r = spawnSync(
    NODE22,
    [
      path.join(SUITE, 'dist', 'index.js'),
      'server',
      '--url',
      url,
      '--spec-version',
      specVersion,
      '--scenario',
      scenario,
      '--expected-failures',
      BASELINE,
      '-o',
      outDir,
    ],
    {
      encoding: 'utf8',
      timeout: 120_000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', NO_COLOR: '1' },
    },
  );
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

describe.skipIf(!!skip)(`MCP conformance suite ${CONFORMANCE_VERSION}`, () => {
  let server: HttpServer;
  let state: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    state = tempDir();
    server = await startHttpServer({ SANDBOX_STATE_DIR: state.dir });
  });
  afterAll(async () => {
    await server?.stop();
    state?.cleanup();
  });

  for (const [specVersion, scenarios] of [
    ['2026-07-28', MODERN],
    ['2025-11-25', LEGACY],
  ] as const) {
    it.each(scenarios)(
      `${specVersion}: %s`,
      (scenario) => {
        const { status, output } = runScenario(server.url, specVersion, scenario, path.join(state.dir, 'conformance'));
        expect(
          status,
          output
            .split('\n')
            .filter((l) => /FAIL|✗|Unexpected|stale|Error/i.test(l))
            .join('\n') || output.slice(-2000),
        ).toBe(0);
      },
      130_000,
    );
  }
});
