#!/usr/bin/env node
// npm run build: dist/ from an empty folder — TypeScript, the in-sandbox agent as one bundle
// (bundle-agent.mjs), and every provider's shell scripts (src/providers/*/scripts, read at run time).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
execFileSync(process.execPath, [path.join(root, 'scripts/bundle-agent.mjs')], { stdio: 'inherit' });
const providers = path.join(root, 'src/providers');
for (const provider of readdirSync(providers)) {
  const scripts = path.join(providers, provider, 'scripts');
  if (existsSync(scripts)) cpSync(scripts, path.join(root, 'dist/providers', provider, 'scripts'), { recursive: true });
}
chmodSync(path.join(root, 'dist/cli.js'), 0o755);
buildAgentFront();

/**
 * The agent's native front (src/agent-front): built when a C compiler is at hand. Without one, sandboxes
 * start the Node.js agent directly, which works the same but starts slower and weighs more.
 */
function buildAgentFront() {
  const dir = path.join(root, 'src/agent-front');
  const sources = readdirSync(dir)
    .filter((name) => name.endsWith('.c'))
    .map((name) => path.join(dir, name));
  const output = path.join(root, 'dist/agent/front');
  const flags = ['-O2', '-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-o', output, ...sources, '-lm'];
  for (const compiler of [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean)) {
    try {
      execFileSync(compiler, flags, { stdio: ['ignore', 'inherit', 'inherit'] });
      return;
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
  }
  process.stderr.write(
    'build: no C compiler (cc, gcc or clang): sandboxes will start the Node.js agent without its native front\n' +
      '       (slower cold starts, more memory per sandbox; install gcc and rebuild to get it)\n',
  );
}
