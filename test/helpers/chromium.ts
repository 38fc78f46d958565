import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Debian's real headless Chromium for browser tests, the one way the test standards allow:
 * /usr/bin/chromium through playwright-core, a fresh profile in a temp folder (removed by
 * `close`), background networking off, so any request a page shows is the page's own.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface LaunchedChromium {
  context: BrowserContext;
  /** closes the browser, then removes its profile */
  close(): Promise<void>;
}

export async function launchChromium(options: { viewport?: { width: number; height: number } } = {}): Promise<LaunchedChromium> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: browser tests need Debian's chromium (apt-get install -y chromium)`);
  const profile = await mkdtemp(path.join(tmpdir(), 'ozg-chromium-profile-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: options.viewport ?? { width: 1280, height: 800 } });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    context,
    async close() {
      try {
        await context.close();
      } finally {
        await rm(profile, { recursive: true, force: true });
      }
    },
  };
}

/** A page with everything it did that a self-contained page must not do, recorded from before its first script ran. */
export interface WatchedPage {
  page: Page;
  url: string;
  /** every request the page made (its own document included) */
  requests: string[];
  /** requests that failed (blocked, refused), with why */
  failedRequests: string[];
  /** console errors and warnings, and uncaught exceptions */
  consoleErrors: string[];
  /** Content-Security-Policy violations the document reported */
  violations(): Promise<string[]>;
  /** every call of window.alert, confirm or prompt (replaced before the page's scripts run) */
  dialogs(): Promise<string[]>;
}

/** Opens `url` in a new page of `context` and waits for `readySelector`, watching requests, console, CSP and dialogs. */
export async function openWatched(context: BrowserContext, url: string, readySelector: string): Promise<WatchedPage> {
  const page = await context.newPage();
  const watched: WatchedPage = {
    page,
    url,
    requests: [],
    failedRequests: [],
    consoleErrors: [],
    violations: () => page.evaluate<string[]>('window.__violations'),
    dialogs: () => page.evaluate<string[]>('window.__dialogs'),
  };
  page.on('request', (request) => watched.requests.push(request.url()));
  page.on('requestfailed', (request) => watched.failedRequests.push(`${request.url()}: ${request.failure()?.errorText ?? 'failed'}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') watched.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => watched.consoleErrors.push(error.message));
  // a real dialog would block the page: any that still opens is recorded and dismissed
  page.on('dialog', (dialog) => {
    watched.consoleErrors.push(`dialog ${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => undefined);
  });
  // a string, not a function: the tests compile without the DOM library
  await page.addInitScript(
    [
      'window.__violations = [];',
      "document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));",
      'window.__dialogs = [];',
      "for (const name of ['alert', 'confirm', 'prompt']) window[name] = (...args) => { window.__dialogs.push(name + ': ' + args.map(String).join(' ')); };",
    ].join('\n'),
  );
  await page.goto(url);
  await page.waitForSelector(readySelector);
  return watched;
}
