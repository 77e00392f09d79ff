import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import type { Config } from '../config.js';
import { SandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Session, SessionService } from '../sessions/session.js';
import { openBrowser } from './launch.js';
import { NetworkLog } from './network-log.js';
import { PageLog } from './page-log.js';

export const VIEWPORT = { width: 1280, height: 720 };

interface Live {
  browser: Browser;
  /** Ends the sandbox's Chromium where disconnecting does not (CDP endpoints). */
  release: () => Promise<void>;
  context: BrowserContext;
  sandboxId: string;
  /** Set when a call found Chromium gone before Playwright noticed the pipe closing. */
  dead?: boolean;
}

const CLOSED =
  /Target (page, context or browser )?(has been )?closed|Browser has been closed|browser has disconnected/i;

/** Whether an error (or its cause) says the browser or tab went away under the call. */
export function isClosedError(error: unknown): boolean {
  for (let x: unknown = error; x instanceof Error; x = x.cause) if (CLOSED.test(x.message)) return true;
  return false;
}

/** Notes kept between two calls; more are counted, not kept (a page can raise dialogs without end). */
const MAX_NOTES = 20;
const SNAPSHOT_HINT = 'take a new snapshot with browser_snapshot and use a ref from it';

/**
 * A session's browser: one Chromium living in the session's sandbox, started at the first browser
 * call, with one context (cookies, storage) and its tabs. If Chromium dies, is closed, or the sandbox
 * is replaced, the next call starts a fresh one and says so. Closed with the session.
 */
export class BrowserService implements SessionService {
  private live?: Live;
  private starting?: Promise<Live>;
  private readonly pages: Page[] = [];
  private active = 0;
  private readonly logs = new WeakMap<Page, PageLog>();
  private readonly requests = new WeakMap<Page, NetworkLog>();
  /** Refs in the latest snapshot of each page: a ref outside it is unknown, not just stale. */
  private readonly refs = new WeakMap<Page, Set<string>>();
  /** Latest snapshot per page, for "what changed" after an action. */
  private readonly lastSnapshot = new WeakMap<Page, { url: string; text: string }>();
  private readonly notes: string[] = [];
  /** Notes past MAX_NOTES since the last call: a page can raise dialogs or popups without end. */
  private droppedNotes = 0;
  private closedByTool = false;
  private closedWhileIdle = false;
  private closed = false;

  constructor(
    private readonly session: Session,
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  static of(session: Session, config: Config): BrowserService {
    return session.service(
      'browser',
      () => new BrowserService(session, config, session.log.child({ service: 'browser' })),
    );
  }

  /** Things the model should hear about (relaunches, dialogs, crashes), once. */
  takeNotes(): string[] {
    const notes = this.notes.splice(0);
    if (this.droppedNotes)
      notes.push(`Note: ${this.droppedNotes} more notes like these were left out (the page keeps raising them).`);
    this.droppedNotes = 0;
    return notes;
  }

  /** Keeps a note for the next result, up to MAX_NOTES of them between two calls. */
  private note(text: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(text);
    else this.droppedNotes++;
  }

  /** The active tab, starting the browser (and a first tab) when needed. */
  async page(): Promise<Page> {
    await this.ensure();
    if (!this.pages.length) await this.newTab();
    return this.pages[this.active]!;
  }

  private async ensure(): Promise<Live> {
    if (this.closed) throw new SandboxError('SANDBOX_GONE', 'this session has ended');
    const sandbox = await this.session.sandbox();
    if (this.live && !this.live.dead && this.live.browser.isConnected() && this.live.sandboxId === sandbox.id)
      return this.live;
    if (this.starting) return this.starting;
    if (this.live) {
      const why = this.live.sandboxId !== sandbox.id ? 'the sandbox it lived in was replaced' : 'it crashed or exited';
      this.note(
        `Note: the previous browser stopped (${why}); a fresh browser was started, so earlier tabs, cookies and history are gone.`,
      );
      void shutdown(this.live);
      this.forget();
    } else if (this.closedByTool) {
      this.note('Note: the browser had been closed with browser_close; a fresh browser was started.');
    } else if (this.closedWhileIdle) {
      this.note(
        `Note: the browser was closed while this session was idle (over ${this.config.idleTimeoutS} s); a fresh browser was started, so earlier tabs and cookies are gone.`,
      );
    }
    this.closedByTool = false;
    this.closedWhileIdle = false;
    if (!sandbox.browserEndpoint) {
      throw new SandboxError('UNSUPPORTED', `the ${sandbox.provider} provider does not offer a browser yet`, {
        hint: 'use the local provider for the browser tools',
      });
    }
    const endpoint = sandbox.browserEndpoint.bind(sandbox);
    this.starting = (async () => {
      const started = performance.now();
      const ep = await endpoint({ chromiumPath: this.config.chromiumPath });
      const endpointMs = Math.round(performance.now() - started);
      const release = async () => {
        if (ep.kind === 'cdp') await ep.close?.().catch(() => undefined);
      };
      const browser = await openBrowser(ep).catch(async (error: unknown) => {
        await release();
        throw error;
      });
      const launchMs = Math.round(performance.now() - started) - endpointMs;
      try {
        const context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: false });
        context.setDefaultTimeout(this.config.browserActionTimeoutS * 1000);
        context.setDefaultNavigationTimeout(this.config.browserNavTimeoutS * 1000);
        context.on('page', (p) => this.track(p));
        const live: Live = { browser, context, sandboxId: sandbox.id, release };
        browser.on('disconnected', () => {
          if (this.live === live) this.log.info('browser disconnected');
        });
        if (this.closed) throw new SandboxError('SANDBOX_GONE', 'this session ended while its browser was starting');
        this.live = live;
        this.log.info(
          { sandboxId: sandbox.id, ms: Math.round(performance.now() - started), endpointMs, launchMs },
          'browser started',
        );
        return live;
      } catch (e) {
        await browser.close().catch(() => undefined);
        await release();
        throw e;
      }
    })().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private track(page: Page): void {
    if (this.pages.includes(page)) return;
    this.pages.push(page);
    this.logs.set(page, new PageLog(page, (n) => this.note(n)));
    this.requests.set(page, new NetworkLog(page));
    page.on('close', () => {
      const i = this.pages.indexOf(page);
      if (i < 0) return;
      this.pages.splice(i, 1);
      if (this.active >= i && this.active > 0) this.active--;
    });
  }

  async newTab(url?: string): Promise<Page> {
    const { context } = await this.ensure();
    const page = await context.newPage();
    this.track(page);
    this.active = this.pages.indexOf(page);
    if (url) await page.goto(url, { waitUntil: 'domcontentloaded' });
    return page;
  }

  tabs(): { pages: Page[]; active: number } {
    return { pages: [...this.pages], active: this.active };
  }

  async selectTab(index: number): Promise<Page> {
    await this.ensure();
    const page = this.pages[index];
    if (!page)
      throw new SandboxError(
        'INVALID_ARGUMENT',
        `there is no tab ${index}; open tabs are 0..${this.pages.length - 1}`,
        { hint: 'list them with browser_tabs {action: "list"}' },
      );
    this.active = index;
    await page.bringToFront().catch(() => undefined);
    return page;
  }

  async closeTab(index?: number): Promise<void> {
    await this.ensure();
    const i = index ?? this.active;
    const page = this.pages[i];
    if (!page)
      throw new SandboxError('INVALID_ARGUMENT', `there is no tab ${i}; open tabs are 0..${this.pages.length - 1}`, {
        hint: 'list them with browser_tabs {action: "list"}',
      });
    await page.close();
  }

  pageLog(page: Page): PageLog | undefined {
    return this.logs.get(page);
  }

  networkLog(page: Page): NetworkLog | undefined {
    return this.requests.get(page);
  }

  /** The element behind a snapshot ref, or an error telling the model to take a fresh snapshot. */
  async locate(page: Page, ref: string): Promise<Locator> {
    // No page yet (or a tab opened on about:blank and never snapshotted): there is nothing to act on.
    if (!this.refs.has(page) && page.url() === 'about:blank')
      throw new SandboxError('INVALID_ARGUMENT', `there is no page to find ref ${ref} on: this tab is blank`, {
        hint: 'open one with browser_navigate first, then use a ref from the snapshot it returns',
      });
    if (!this.refs.get(page)?.has(ref)) {
      throw new SandboxError('INVALID_ARGUMENT', `ref ${ref} is not in the latest snapshot of this tab`, {
        hint: SNAPSHOT_HINT,
      });
    }
    const loc = page.getByRef(ref);
    if ((await loc.count().catch(() => 0)) === 0) {
      throw new SandboxError(
        'NOT_FOUND',
        `ref ${ref} is stale: that element is no longer on the page (it changed since the snapshot)`,
        { hint: SNAPSHOT_HINT },
      );
    }
    return loc;
  }

  /** An accessibility snapshot of the page in the "ai" mode: roles, names, states and [ref=eN] per element. */
  async snapshot(page: Page): Promise<{ text: string; previous?: { url: string; text: string } }> {
    const text = await page.ariaSnapshot({ mode: 'ai', timeout: this.config.browserActionTimeoutS * 1000 });
    const previous = this.lastSnapshot.get(page);
    this.lastSnapshot.set(page, { url: page.url(), text });
    this.refs.set(page, new Set([...text.matchAll(/\[ref=([A-Za-z0-9_]+)\]/g)].map((m) => m[1]!)));
    return { text, previous };
  }

  /**
   * After a call failed because the browser went away: whether that was Chromium dying (then the
   * next call starts a fresh one, with a note) rather than just this tab closing.
   */
  async checkCrashed(error: unknown): Promise<boolean> {
    const live = this.live;
    if (!live || !isClosedError(error)) return false;
    const alive =
      live.browser.isConnected() &&
      (await Promise.race([
        live.browser.newBrowserCDPSession().then(
          (s) => s.detach().then(() => true),
          () => false,
        ),
        new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
      ]));
    if (alive) return false;
    live.dead = true;
    void shutdown(live);
    return true;
  }

  /** Closes the browser; the next browser call starts a fresh one. Returns whether one was running. */
  async closeBrowser(why: 'tool' | 'idle' = 'tool'): Promise<boolean> {
    await this.starting?.catch(() => undefined);
    const live = this.live;
    this.forget();
    if (!live) return false;
    // Said before the shutdown is awaited: a call arriving meanwhile must give the right note.
    if (why === 'tool') this.closedByTool = true;
    else this.closedWhileIdle = true;
    await shutdown(live);
    return true;
  }

  /** The idle session let go of its workspace's sandbox: its Chromium there goes too (memory). */
  async suspend(): Promise<void> {
    await this.closeBrowser('idle');
  }

  private forget(): void {
    this.live = undefined;
    this.pages.splice(0);
    this.active = 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => undefined);
    const live = this.live;
    this.forget();
    if (live) await shutdown(live);
  }
}

async function shutdown(live: Live): Promise<void> {
  await live.browser.close().catch(() => undefined);
  await live.release();
}
