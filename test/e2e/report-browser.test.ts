/**
 * Issue 16, must-show 1 and 2, end to end: the real CLI writes `ozg report --html` for a
 * generated fleet (a real project, a ledger in ozg's own format, local markers, one vm site
 * nobody answers for), and Debian's real headless Chromium opens the file from file:// as a
 * person opens a CI artifact. What the page shows is checked against what the generator made,
 * never against the report's own model: the counts per state, the rows a state filter, a
 * district filter and a search leave, a failed site's timeline with the failing check's output
 * from the ledger. The page may request nothing but its own file, log no error and break no
 * CSP rule. A hostile fleet's markup and terminal escapes must read as text, run nothing, and
 * the secret in its smoke output must be nowhere in the file or the page.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { parse } from 'yaml';
import { launchChromium, openWatched, type LaunchedChromium, type WatchedPage } from '../helpers/chromium.js';
import { generateReportFleet, type ReportFleet } from '../helpers/report-fleet.js';
import { runOzg } from '../helpers/run-ozg.js';

const STATES = ['failed', 'unreachable', 'drift', 'held', 'pending', 'up-to-date', 'not-deployed'] as const;
/** how the report writes a secret it redacted (README, "Secrets") */
const REDACTED = '«secret:token»';
/** the detail line the generator's failed check carries before its output */
const FAILED_DETAIL = 'exit 1 (expected 0)';

let browser: LaunchedChromium | undefined;
const fleets: ReportFleet[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const fleet of fleets) await rm(fleet.dir, { recursive: true, force: true });
});

/** `ozg report --html -o <fleet>/<name>` through bin/ozg.js; the page's file:// URL and text. */
async function writeReport(fleet: ReportFleet, name: string, flags: string[]): Promise<{ url: string; html: string }> {
  const file = path.join(fleet.dir, 'public', name);
  const run = await runOzg(['report', '--html', '-o', file, '--lang', 'en', ...flags], { cwd: fleet.dir, env: fleet.env });
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  expect(run.stdout).toContain(`wrote ${file}`);
  return { url: pathToFileURL(file).href, html: await readFile(file, 'utf8') };
}

const openReport = (url: string) => openWatched(browser!.context, url, 'html[data-ready="true"]');

/** Only its own document requested, nothing failed, no console error, no CSP violation, no dialog. */
async function expectClean(opened: WatchedPage): Promise<void> {
  expect(opened.requests).toEqual([opened.url]);
  expect(opened.failedRequests).toEqual([]);
  expect(opened.consoleErrors).toEqual([]);
  expect(await opened.violations()).toEqual([]);
  expect(await opened.dialogs()).toEqual([]);
}

type Inventory = Map<string, { labels: Record<string, string>; procedures: Record<string, { version: string }> }>;

/** Each site as the generator wrote it into the fleet's inventory: its labels and desired versions. */
async function readInventory(fleet: ReportFleet): Promise<Inventory> {
  const inventory = parse(await readFile(path.join(fleet.dir, 'sites.yaml'), 'utf8')) as { sites: Record<string, { labels: Record<string, string>; procedures: Record<string, { version: string }> }> };
  return new Map(Object.entries(inventory.sites));
}

const countOf = (page: Page, state: string) => page.locator(`.count[data-state="${state}"] .n`).textContent().then(Number);
const shownCount = (page: Page) => page.locator('#shown').getAttribute('data-shown').then(Number);

/**
 * Every site the matrix shows under the current filters: the list is virtualised (only the rows
 * in view are in the DOM), so it is scrolled through from top to bottom, then back to the top.
 */
const SHOWN_SITES = `(async () => {
  const scroll = document.getElementById('matrix-scroll');
  const frames = async (n) => { for (let i = 0; i < n; i++) await new Promise((r) => requestAnimationFrame(r)); };
  const seen = new Set();
  for (let top = 0; ; top += Math.max(44, Math.floor(scroll.clientHeight / 2))) {
    scroll.scrollTop = top;
    await frames(3);
    scroll.querySelectorAll('tr.row').forEach((row) => seen.add(row.getAttribute('data-site')));
    if (scroll.scrollTop + scroll.clientHeight >= scroll.scrollHeight) break;
  }
  scroll.scrollTop = 0;
  await frames(3);
  return [...seen].sort();
})()`;
const shownSites = (page: Page) => page.evaluate<string[]>(SHOWN_SITES);
const sorted = (names: string[]) => [...names].sort();

describe('ozg report --html of a generated 200-site fleet in headless Chromium', () => {
  let fleet: ReportFleet;
  let inventory: Inventory;
  let live: WatchedPage;
  let offline: WatchedPage;

  beforeAll(async () => {
    fleet = await generateReportFleet({ sites: 200, procedures: 3, seed: 16, unreachable: true });
    fleets.push(fleet);
    inventory = await readInventory(fleet);
    live = await openReport((await writeReport(fleet, 'live.html', [])).url);
    offline = await openReport((await writeReport(fleet, 'offline.html', ['--offline'])).url);
  }, 180_000);

  afterAll(async () => {
    await live?.page.close();
    await offline?.page.close();
  });

  it('the fleet has every state live, so the checks below mean something', () => {
    for (const state of STATES) expect({ state, some: fleet.expected.live[state] > 0 }).toEqual({ state, some: true });
    expect(fleet.sites).toHaveLength(201);
  });

  it('live (markers read): the sites per state are the generator’s, all 201 shown', async () => {
    expect(await live.page.locator('.mode-live').count()).toBe(1);
    for (const state of STATES) expect({ state, count: await countOf(live.page, state) }).toEqual({ state, count: fleet.expected.live[state] });
    expect(await live.page.locator('.counts .total .n').textContent()).toBe('201');
    expect(await shownCount(live.page)).toBe(201);
    expect(await live.page.locator('#matrix-table').getAttribute('aria-rowcount')).toBe('202');
    await expectClean(live);
  });

  it('--offline (ledger only): the generator’s offline counts, drift unseen and the vm site not deployed', async () => {
    expect(await offline.page.locator('.mode-offline').count()).toBe(1);
    for (const state of STATES) expect({ state, count: await countOf(offline.page, state) }).toEqual({ state, count: fleet.expected.offline[state] });
    expect(await countOf(offline.page, 'drift')).toBe(0);
    expect(await shownCount(offline.page)).toBe(201);
    await expectClean(offline);
  });

  it('a state filter, then a district filter, then a search leave exactly the generator’s sites', async () => {
    const { page } = live;
    await page.bringToFront();
    const failed = fleet.sites.filter((site) => site.kind === 'failed').map((site) => site.name);
    await page.selectOption('#f-state', 'failed');
    expect(await shownCount(page)).toBe(failed.length);
    expect(await shownSites(page)).toEqual(sorted(failed));

    const district = inventory.get(failed[0]!)!.labels.district!;
    const inDistrict = failed.filter((name) => inventory.get(name)!.labels.district === district);
    expect(inDistrict.length).toBeLessThan(failed.length);
    await page.selectOption('select[data-label-key="district"]', district);
    expect(await shownCount(page)).toBe(inDistrict.length);
    expect(await shownSites(page)).toEqual(sorted(inDistrict));

    await page.click('button.reset');
    expect(await shownCount(page)).toBe(201);
    await page.fill('#f-search', 'GEMEINDE-0012');
    const searched = fleet.sites.map((site) => site.name).filter((name) => name.includes('gemeinde-0012'));
    expect(searched).toHaveLength(10);
    expect(await shownCount(page)).toBe(searched.length);
    expect(await shownSites(page)).toEqual(sorted(searched));
    expect(await page.locator('#shown').textContent()).toBe('10 of 201 sites shown');

    await page.selectOption('#f-state', 'drift');
    const drifted = searched.filter((name) => fleet.sites.find((site) => site.name === name)!.kind === 'drift');
    expect(await shownSites(page)).toEqual(sorted(drifted));
    expect(await shownCount(page)).toBe(drifted.length);

    await page.click('button.reset');
    expect(await shownCount(page)).toBe(201);
    await expectClean(live);
  });

  it('a failed site’s timeline opens from the keyboard and shows the failing check’s output from the ledger; Escape closes it', async () => {
    const { page } = live;
    await page.bringToFront();
    const site = fleet.sites.find((s) => s.kind === 'failed')!;
    const output = fleet.smokeOutput.replaceAll(fleet.secret, REDACTED);
    expect(output).toBe(`expected 200, got 503 token=${REDACTED}`);
    await page.fill('#f-search', site.name);
    expect(await shownCount(page)).toBe(1);

    await page.focus('#f-search');
    let onRow = false;
    for (let i = 0; i < 15 && !onRow; i++) {
      await page.keyboard.press('Tab');
      onRow = await page.evaluate<boolean>("document.activeElement?.matches('tr.row') ?? false");
    }
    expect(onRow).toBe(true);
    expect(await page.evaluate<string | null>("document.activeElement.getAttribute('data-site')")).toBe(site.name);
    await page.keyboard.press('Enter');

    const dialog = page.locator('dialog#detail');
    expect(await dialog.evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(true);
    expect(await dialog.locator('#detail-title').textContent()).toBe(site.name);
    const failedEvent = dialog.locator('ol.timeline > li.event-failed').filter({ has: page.locator('pre.check-output') });
    expect(await failedEvent.count()).toBe(1);
    expect(await failedEvent.locator('.what').textContent()).toBe(`${site.procedures[0]} ${inventory.get(site.name)!.procedures[site.procedures[0]!]!.version}`);
    expect(await failedEvent.locator('.checks li.check-failed .name').textContent()).toBe('probe-check');
    const check = failedEvent.locator('pre.check-output');
    expect(await check.textContent()).toBe(`${FAILED_DETAIL}\n${output}`);
    expect(await check.isVisible()).toBe(true);
    expect(await failedEvent.locator('pre.error-output').textContent()).toBe(`smoke checks failed: ${output}`);

    await page.keyboard.press('Escape');
    expect(await dialog.evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(false);
    expect(await page.evaluate<string | null>("document.activeElement.getAttribute('data-site')")).toBe(site.name);
    await page.click('button.reset');
    await expectClean(live);
  });
});

describe('ozg report --html of a hostile fleet in headless Chromium', () => {
  /** the generator's hostile smoke output as the page must show it: markup as text, escapes and bidi overrides made visible, the secret redacted */
  const VISIBLE = `<script>alert("pwned")</script> </script><!-- ␛[31mred␛[0m ␇bell [U+202E]evil[U+202C] <img src=x onerror=alert(1)> token=${REDACTED}`;
  let fleet: ReportFleet;

  beforeAll(async () => {
    fleet = await generateReportFleet({ sites: 24, procedures: 2, seed: 5, hostile: true });
    fleets.push(fleet);
  }, 180_000);

  it('shows smoke output markup and terminal escapes as visible text, runs nothing, adds no element, and never holds the secret', async () => {
    const { url, html } = await writeReport(fleet, 'hostile.html', []);
    expect(html).not.toContain(fleet.secret);
    expect(html).not.toContain('Rf7#fleet');
    expect(html).toContain(REDACTED);

    const opened = await openReport(url);
    const { page } = opened;
    expect(await page.locator('img, iframe, object, embed').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(2);

    const site = fleet.sites.find((s) => s.kind === 'failed')!;
    await page.fill('#f-search', site.name);
    const row = page.locator(`tr.row[data-site="${site.name}"]`);
    await row.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('dialog#detail');
    expect(await dialog.locator('#detail-title').textContent()).toBe(site.name);

    const check = dialog.locator('pre.check-output').first();
    expect(await check.textContent()).toBe(`${FAILED_DETAIL}\n${VISIBLE}`);
    expect(await check.isVisible()).toBe(true);
    expect(await check.evaluate((pre) => (pre as unknown as { childElementCount: number }).childElementCount)).toBe(0);
    expect(await dialog.locator('pre.error-output').first().textContent()).toBe(`smoke checks failed: ${VISIBLE}`);
    expect(await page.locator('#rollout table.failures td').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('<script>alert("pwned")</script>')]));
    expect(await page.locator('img, iframe, object, embed').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(2);

    // the document with the dialog open: its text, attributes (titles) and markup
    const dom = await page.evaluate<{ text: string; markup: string }>('({ text: document.documentElement.innerText + document.documentElement.textContent, markup: document.documentElement.outerHTML })');
    expect(dom.text).toContain(VISIBLE);
    for (const text of [dom.text, dom.markup]) {
      expect(text).not.toContain(fleet.secret);
      expect(text).not.toContain('Rf7#fleet');
    }
    await page.keyboard.press('Escape');
    await expectClean(opened);
    await page.close();
  });
});
