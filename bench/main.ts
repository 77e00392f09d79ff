import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { browserBench } from './browser.js';
import { dockerBench } from './docker.js';
import { egressBench } from './egress.js';
import { workspaceBench } from './workspace.js';
import { filesBench } from './files.js';
import { previewBench } from './preview.js';
import { protocolBench } from './protocol.js';
import { shellBench } from './shell.js';
import { startupBench } from './startup.js';
import { stressBench } from './stress.js';
import { surfaceBench } from './surface.js';
import { densityBench } from './density.js';
import type { BenchRunner, BenchSection } from '../src/ops/stats.js';

/**
 * `npm run bench`: each section measures ours beside a baseline in the same run, prints a table to
 * stderr and the whole result as JSON to stdout (and .bench/results.json).
 * Flags: --iterations N, --only name1,name2
 */
const SECTIONS: Record<string, BenchRunner> = {
  shell: shellBench,
  files: filesBench,
  preview: previewBench,
  startup: startupBench,
  browser: browserBench,
  docker: dockerBench,
  workspace: workspaceBench,
  protocol: protocolBench,
  stress: stressBench,
  surface: surfaceBench,
  egress: egressBench,
  density: densityBench,
};

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function table(s: BenchSection): string {
  const rows = Object.entries(s.metrics).map(
    ([k, m]) =>
      `  ${k.padEnd(44)} p50 ${String(m.p50).padStart(9)}  p95 ${String(m.p95).padStart(9)}  min ${String(m.min).padStart(9)}  max ${String(m.max).padStart(9)}  sd ${String(m.stdev).padStart(8)}  n=${m.n}`,
  );
  const cmp = s.comparisons.map(
    (c) =>
      `  ${c.pass ? 'PASS' : 'FAIL'} ${c.metric}: ${c.ours} vs ${c.baselineName} ${c.baseline} (ratio ${c.ratio}; target ${c.target})`,
  );
  return [`== ${s.name} (ms)`, ...rows, ...cmp, ...s.notes.map((n) => `  note: ${n}`)].join('\n');
}

async function main(): Promise<void> {
  const iterations = Number(flag('iterations') ?? 30);
  const only = flag('only')?.split(',');
  const results: BenchSection[] = [];
  for (const [name, run] of Object.entries(SECTIONS)) {
    if (only && !only.includes(name)) continue;
    const stateDir = mkdtempSync(path.join(os.tmpdir(), `sandbox-mcp-bench-${name}-`));
    try {
      const section = await run({ iterations, stateDir, log: (l) => process.stderr.write(`[${name}] ${l}\n`) });
      results.push(section);
      process.stderr.write(`${table(section)}\n`);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    iterations,
    sections: results,
  };
  mkdirSync('.bench', { recursive: true });
  writeFileSync(path.join('.bench', 'results.json'), JSON.stringify(out, null, 2));
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

void main();
