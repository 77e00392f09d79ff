import v8 from 'node:v8';

/**
 * shell_read's `until` is a caller's regex run on a process's output: one with nested quantifiers, like
 * (a+)+$, would backtrack for minutes and freeze every call of the process that runs it. With this V8
 * flag such a regex switches to V8's linear-time engine instead; patterns with backreferences or
 * lookarounds cannot switch and stay the caller's risk. The flag is process-wide, so it is set
 * explicitly at the start of each process that runs those regexes (OutputLog.read): the sandbox's agent
 * (agent/main.ts) and the server, which keeps the output of docker and cloud processes (serve.ts).
 */
export function enableLinearRegexFallback(): void {
  v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
}
