#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { ConfigError, helpText, loadConfig, parseArgv, type Config, type ParsedArgs } from './config.js';
import { isSandboxError } from './errors.js';
import { createLogger } from './logger.js';

async function main(): Promise<void> {
  let args: ParsedArgs;
  let config: Config;
  try {
    args = parseArgv(process.argv.slice(2));
    if (args.help) {
      process.stderr.write(`${helpText()}\n`);
      return;
    }
    config = loadConfig(args.flags, process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`sandbox-mcp: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  // doctor and bench talk to a person: only warnings and worse go to the JSON log.
  const log = createLogger(args.command === 'serve' ? config.logLevel : 'warn');
  if (args.command === 'migrate') {
    process.exitCode = await (await import('./ops/migrate/index.js')).runMigrate(config, log, args.migrate!);
    return;
  }
  if (args.command === 'sites') {
    // An operator command: its failures ("no site named x") are answers, not a server that cannot start.
    try {
      const { exitCode, report } = await (
        await import('./ops/sites.js')
      ).sites(config, args.sites!, { json: args.json });
      process.stdout.write(`${report}\n`);
      process.exitCode = exitCode;
    } catch (e) {
      process.stderr.write(`sandbox-mcp sites: ${isSandboxError(e) ? e.describe() : (e as Error).message}\n`);
      process.exitCode = 1;
    }
    return;
  }
  if (args.command === 'bench' && args.stress) {
    await stressCommand(config, args);
    return;
  }
  try {
    if (args.command === 'serve') {
      await (await import('./serve.js')).serve(config, log);
    } else {
      // doctor and bench print their report on stdout: they are commands for people and scripts.
      const progress = process.stderr.isTTY ? (line: string) => process.stderr.write(`\r${line}`) : undefined;
      const { exitCode, report } =
        args.command === 'doctor'
          ? await (await import('./ops/doctor.js')).doctor(config, log, { json: args.json })
          : await (
              await import('./ops/perf.js')
            ).perf(config, log, { json: args.json, iterations: args.iterations ?? 10, progress });
      if (progress) process.stderr.write('\n');
      process.stdout.write(`${report}\n`);
      process.exitCode = exitCode;
    }
  } catch (e) {
    const msg = isSandboxError(e) ? e.describe() : (e as Error).message;
    log.fatal({ err: e }, `cannot start: ${msg}`);
    process.stderr.write(`sandbox-mcp: cannot start: ${msg}\n`);
    process.exit(1);
  }
}

/**
 * `bench --stress`: the JSON result on stdout, the human summary on stderr; exit 1 when a threshold is
 * missed. The MCP client it drives is loaded here only, so `serve` never pays for it.
 */
async function stressCommand(config: Config, args: ParsedArgs): Promise<void> {
  try {
    const options = (await import('./ops/stress-options.js')).parseStressOptions(args.stress!);
    const { runStress, stressSummary } = await import('./ops/stress.js');
    const progress = process.stderr.isTTY ? (line: string) => process.stderr.write(`\r${line}`) : undefined;
    const result = await runStress({
      config,
      options,
      flags: args.flags,
      env: process.env,
      cliPath: fileURLToPath(import.meta.url),
      progress,
    });
    if (progress) process.stderr.write('\n');
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stderr.write(`${stressSummary(result)}\n`);
    process.exitCode = result.pass ? 0 : 1;
  } catch (e) {
    const msg = isSandboxError(e) ? e.describe() : (e as Error).message;
    process.stderr.write(`sandbox-mcp bench --stress: ${msg}\n`);
    process.exitCode = e instanceof ConfigError ? 2 : 1;
  }
}

void main();
