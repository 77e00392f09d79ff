import type { Page } from 'playwright-core';

export interface ConsoleEntry {
  type: string;
  text: string;
  location?: string;
  at: string;
}

const MAX_ENTRIES = 500;
const MAX_TEXT = 2000;

/**
 * What a tab said: console messages and uncaught page errors, kept per tab (newest 500). Dialogs are
 * answered at once (accept, or the default value for prompts) so a page never hangs on one, and the
 * model hears about each through `note`.
 */
export class PageLog {
  readonly entries: ConsoleEntry[] = [];
  /** Entries already shown in an action's result. */
  private reported = 0;
  private dropped = 0;

  constructor(page: Page, note: (n: string) => void) {
    page.on('console', (m) => {
      const loc = m.location();
      // Every dev server without a favicon logs this; it is noise to a model.
      if (/\/favicon\.ico$/.test(loc.url) && m.type() === 'error') return;
      this.push({ type: m.type(), text: m.text(), location: loc.url ? `${loc.url}:${loc.lineNumber + 1}` : undefined });
    });
    page.on('pageerror', (e) => this.push({ type: 'pageerror', text: e.stack ?? e.message }));
    page.on('dialog', (d) => {
      const kind = d.type();
      const answer = kind === 'prompt' ? d.accept(d.defaultValue()) : d.accept();
      void answer.catch(() => undefined);
      note(
        `Note: the page opened a ${kind} dialog ${JSON.stringify(d.message().slice(0, 300))}; it was accepted${kind === 'prompt' ? ` with ${JSON.stringify(d.defaultValue())}` : ''}.`,
      );
    });
    page.on('crash', () =>
      note('Note: this tab crashed (out of memory or a renderer bug); reload it with browser_navigate.'),
    );
    // Downloads are refused (nothing lands on disk unasked); say so, or a click on a file link seems to do nothing.
    page.on('download', (d) => {
      void d.cancel().catch(() => undefined);
      note(
        `Note: the page started a download of ${JSON.stringify(d.suggestedFilename())} (${d.url().slice(0, 500)}); the browser does not save downloads. Fetch it inside the sandbox instead, e.g. shell_exec "curl -sSo ${
          JSON.stringify(d.suggestedFilename())
            .slice(1, -1)
            .replace(/[^\w.-]/g, '_') || 'file'
        } <url>".`,
      );
    });
    page.on('popup', (p) => note(`Note: the page opened a new tab (${p.url() || 'about:blank'}); see browser_tabs.`));
  }

  private push(e: Omit<ConsoleEntry, 'at'>): void {
    this.entries.push({
      ...e,
      text: e.text.length > MAX_TEXT ? `${e.text.slice(0, MAX_TEXT)}...` : e.text,
      at: new Date().toISOString(),
    });
    if (this.entries.length > MAX_ENTRIES) {
      this.entries.shift();
      this.dropped++;
      this.reported = Math.max(0, this.reported - 1);
    }
  }

  /** Entries not yet shown in an action's result. */
  takeNew(): ConsoleEntry[] {
    const fresh = this.entries.slice(this.reported);
    this.reported = this.entries.length;
    return fresh;
  }

  get droppedCount(): number {
    return this.dropped;
  }
}

export function formatEntry(e: ConsoleEntry): string {
  return `[${e.type}] ${e.text}${e.location ? ` (${e.location})` : ''}`;
}
