import type { Browser } from 'playwright-core';
import { SandboxError } from '../errors.js';
import type { BrowserEndpoint } from '../providers/types.js';

/** Flags that let Chromium run headless as any user in a namespace without its own sandbox or a GPU, and stay quiet on the network. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--no-default-browser-check',
  '--password-store=basic',
  '--use-mock-keychain',
  '--mute-audio',
];

const LAUNCH_TIMEOUT_MS = 30_000;

/** Starts (or connects to) the sandbox's Chromium. playwright-core loads only when a browser is first needed. */
export async function openBrowser(endpoint: BrowserEndpoint): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  try {
    if (endpoint.kind === 'cdp') {
      return await chromium.connectOverCDP(endpoint.url, { headers: endpoint.headers, timeout: LAUNCH_TIMEOUT_MS });
    }
    return await chromium.launch({
      executablePath: endpoint.executablePath,
      args: [...CHROMIUM_FLAGS, ...endpoint.args],
      env: endpoint.env,
      headless: true,
      chromiumSandbox: false,
      timeout: LAUNCH_TIMEOUT_MS,
      // The server's own shutdown closes browsers; Playwright must not race it on signals.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (e) {
    const msg = firstLine(e);
    if (/Timeout/i.test(msg)) {
      throw new SandboxError('UNAVAILABLE', `Chromium did not start within ${LAUNCH_TIMEOUT_MS / 1000} s`, {
        hint: "the machine may be overloaded; try again, and check the server log for Chromium's own errors",
        cause: e,
      });
    }
    throw new SandboxError('UNAVAILABLE', `Chromium failed to start: ${msg}`, {
      hint: 'check that Chromium runs on this machine (chromium --headless --no-sandbox --dump-dom about:blank) and see the server log',
      cause: e,
    });
  }
}

/** A Playwright error's message without its call log, which is noise to a model. */
export function firstLine(error: unknown): string {
  const msg = error instanceof Error ? error.message : String(error);
  return msg
    .split('\n')[0]!
    .replace(/^(page|locator|frame|browserContext|browser|elementHandle|keyboard|mouse)\.\w+: /, '')
    .trim();
}
