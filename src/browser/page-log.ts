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
    page.on('console', (consoleMessage) => {
      const loc = consoleMessage.location();
      // Every dev server without a favicon logs this; it is noise to a model.
      if (/\/favicon\.ico$/.test(loc.url) && consoleMessage.type() === 'error') return;
      this.push({
        type: consoleMessage.type(),
        text: consoleMessage.text(),
        location: loc.url ? `${loc.url}:${loc.lineNumber + 1}` : undefined,
      });
    });
    page.on('pageerror', (e) => this.push({ type: 'pageerror', text: e.stack ?? e.message }));
    page.on('dialog', (pageDialog) => {
      const kind = pageDialog.type();
      const answer = kind === 'prompt' ? pageDialog.accept(pageDialog.defaultValue()) : pageDialog.accept();
      void answer.catch(() => undefined);
      note(
        `Note: the page opened a ${kind} dialog ${JSON.stringify(pageDialog.message().slice(0, 300))}; it was accepted${kind === 'prompt' ? ` with ${JSON.stringify(pageDialog.defaultValue())}` : ''}.`,
      );
    });
    page.on('crash', () =>
      note('Note: this tab crashed (out of memory or a renderer bug); reload it with browser_navigate.'),
    );
    // Downloads are refused (nothing lands on disk unasked); say so, or a click on a file link seems to do nothing.
    page.on('download', (pageDownload) => {
      void pageDownload.cancel().catch(() => undefined);
      note(
        `Note: the page started a download of ${JSON.stringify(pageDownload.suggestedFilename())} (${pageDownload.url().slice(0, 500)}); the browser does not save downloads. Fetch it inside the sandbox instead, e.g. shell_exec "curl -sSo ${
          JSON.stringify(pageDownload.suggestedFilename())
            .slice(1, -1)
            .replace(/[^\w.-]/g, '_') || 'file'
        } <url>".`,
      );
    });
    page.on('popup', (p) => note(`Note: the page opened a new tab (${p.url() || 'about:blank'}); see browser_tabs.`));
  }

  private push(entry: Omit<ConsoleEntry, 'at'>): void {
    this.entries.push({
      ...entry,
      text: entry.text.length > MAX_TEXT ? `${entry.text.slice(0, MAX_TEXT)}...` : entry.text,
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

export function formatEntry(consoleEntry: ConsoleEntry): string {
  return `[${consoleEntry.type}] ${consoleEntry.text}${consoleEntry.location ? ` (${consoleEntry.location})` : ''}`;
}
