import { SandboxError } from '../../errors.js';
import { scriptFile } from './script-file.js';

/** Signal names the tools accept, as numbers for a shell `kill -N`. */
export function signalNumber(signal: string): number {
  const table: Record<string, number> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGUSR1: 10,
    SIGUSR2: 12,
    SIGTERM: 15,
    SIGCONT: 18,
    SIGSTOP: 19,
  };
  const n = table[signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`];
  if (!n)
    throw new SandboxError('INVALID_ARGUMENT', `unknown signal ${signal}`, {
      hint: `use one of ${Object.keys(table).join(', ')}`,
    });
  return n;
}

const signalTreeScript = scriptFile(new URL('./scripts/signal-tree.sh', import.meta.url));

/**
 * The shell command that signals a process and all its descendants (scripts/signal-tree.sh): vendors'
 * kill reaches only the pid they started, and grandchildren (a dev server under npm under bash) would
 * survive. `target`: the pid, or a file in the sandbox that holds it (nothing happens without one).
 */
export function treeSignalCommand(sig: number, target: { pid: number } | { pidFile: string }): string {
  const args = 'pid' in target ? [String(sig), String(target.pid)] : [String(sig), '', target.pidFile];
  return `bash -c ${shellQuote(signalTreeScript())} signal-tree ${args.map(shellQuote).join(' ')}`;
}

/** Quotes a string for bash: the vendors run our commands through a shell. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
