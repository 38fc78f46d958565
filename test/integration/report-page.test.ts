import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { neutraliseText } from '../../src/output/report-html/neutralise-text.js';
import { renderReportHtml } from '../../src/output/report-html/render.js';
import { reportStates, type FleetReport, type ReportSite } from '../../src/report/types.js';
import { launchChromium, openWatched, type LaunchedChromium } from '../helpers/chromium.js';
import { makeReportModel } from '../helpers/report-model.js';

/**
 * The report page (issue 16) in Debian's real headless Chromium, opened from file:// as a
 * person opens a CI artifact: what it shows, how filters and the keyboard act, that it makes
 * no request but its own file, breaks no CSP rule, and shows hostile text as text.
 */
let dir: string;
let browser: LaunchedChromium;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ozg-report-page-'));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface OpenedReport {
  page: Page;
  url: string;
  requests: string[];
  consoleErrors: string[];
  violations: () => Promise<string[]>;
}

let fileCount = 0;
async function openReport(model: FleetReport, lang: 'de' | 'en' = 'en'): Promise<OpenedReport> {
  const file = path.join(dir, `report-${++fileCount}.html`);
  await writeFile(file, renderReportHtml(model, { lang }));
  return openWatched(browser.context, pathToFileURL(file).href, 'html[data-ready="true"]');
}

async function expectClean(opened: OpenedReport): Promise<void> {
  expect(opened.requests).toEqual([opened.url]);
  expect(opened.consoleErrors).toEqual([]);
  expect(await opened.violations()).toEqual([]);
}

const shownCount = (page: Page) => page.locator('#shown').getAttribute('data-shown').then(Number);
const renderedSites = (page: Page) => page.locator('tr.row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-site') ?? ''));
/** every node of the document: elements, text, comments */
const countNodes = (page: Page) =>
  page.evaluate<number>('(() => { const w = document.createTreeWalker(document, NodeFilter.SHOW_ALL); let n = 0; while (w.nextNode()) n++; return n; })()');
const active = (page: Page, attribute: string) => page.evaluate<string | null>(`document.activeElement?.getAttribute(${JSON.stringify(attribute)}) ?? null`);
const pwned = (page: Page) => page.evaluate<unknown>('window.__pwned');
const isOpen = (page: Page) => page.evaluate<boolean>("document.getElementById('detail').open");

describe('report page of 200 sites with mixed states', () => {
  const model = makeReportModel({ sites: 200 });
  let opened: OpenedReport;
  let page: Page;

  beforeAll(async () => {
    opened = await openReport(model);
    page = opened.page;
  });
  afterAll(() => page?.close());

  it('has a model with every state, so the checks below mean something', () => {
    for (const state of reportStates) expect({ state, some: model.counts[state] > 0 }).toEqual({ state, some: true });
  });

  it('shows the sites per state as the model counts them, and all 200 sites', async () => {
    for (const state of reportStates) {
      const shown = await page.locator(`.count[data-state="${state}"] .n`).textContent();
      expect({ state, count: Number(shown) }).toEqual({ state, count: model.counts[state] });
    }
    expect(await shownCount(page)).toBe(200);
    expect(await page.locator('#matrix-table').getAttribute('aria-rowcount')).toBe('201');
    await expectClean(opened);
  });

  it('narrows the rows by state, then by a label, then by a search, and back', async () => {
    const failed = model.sites.filter((s) => s.state === 'failed');
    await page.selectOption('#f-state', 'failed');
    expect(await shownCount(page)).toBe(failed.length);
    const rendered = await renderedSites(page);
    expect(rendered.length).toBe(failed.length);
    expect(new Set(rendered)).toEqual(new Set(failed.map((s) => s.name)));

    const districtKey = await page.locator('#f-label-0').getAttribute('data-label-key');
    expect(districtKey).toBe('district');
    const district = failed[0].labels.district;
    await page.selectOption('#f-label-0', district);
    const both = failed.filter((s) => s.labels.district === district);
    expect(await shownCount(page)).toBe(both.length);
    expect(both.length).toBeLessThan(failed.length);

    await page.selectOption('#f-label-0', '');
    await page.selectOption('#f-state', '');
    await page.fill('#f-search', 'BACH');
    const bach = model.sites.filter((s) => s.name.includes('bach'));
    expect(await shownCount(page)).toBe(bach.length);
    expect(new Set(await renderedSites(page))).toEqual(new Set(bach.map((s) => s.name)));
    expect(await page.locator('#shown').textContent()).toBe(`${bach.length} of 200 sites shown`);

    await page.click('button.reset');
    expect(await shownCount(page)).toBe(200);
    await expectClean(opened);
  });

  it('filters by clicking a state count and sorts by state and data center', async () => {
    await page.click('.count[data-state="held"]');
    expect(await shownCount(page)).toBe(model.counts.held);
    expect(await page.locator('.count[data-state="held"]').getAttribute('aria-pressed')).toBe('true');
    await page.click('button.reset');
    await page.selectOption('#f-sort', 'state');
    const byName = new Map(model.sites.map((s) => [s.name, s]));
    const states = (await renderedSites(page)).map((name) => byName.get(name)!.state);
    expect(states.slice(0, model.counts.failed)).toEqual(Array(model.counts.failed).fill('failed'));
    await page.selectOption('#f-sort', 'dataCenter');
    const centres = (await renderedSites(page)).map((name) => byName.get(name)!.dataCenter);
    expect(centres).toEqual([...centres].sort());
    await page.click('button.reset');
    await page.selectOption('#f-sort', 'name');
  });

  it('opens a failed site from the keyboard: its targets and timeline with the failing check output; Escape closes it', async () => {
    await page.selectOption('#f-state', 'failed');
    await page.focus('#f-search');
    let onRow = false;
    for (let i = 0; i < 10 && !onRow; i++) {
      await page.keyboard.press('Tab');
      onRow = await page.evaluate<boolean>("document.activeElement?.matches('tr.row') ?? false");
    }
    expect(onRow).toBe(true);
    await page.keyboard.press('ArrowDown');
    const site = await active(page, 'data-site');
    const expected = model.sites.find((s) => s.name === site) as ReportSite;
    expect(expected.state).toBe('failed');
    expect(await active(page, 'aria-rowindex')).toBe('3');

    await page.keyboard.press('Enter');
    const dialog = page.locator('dialog#detail');
    expect(await isOpen(page)).toBe(true);
    expect(await dialog.locator('#detail-title').textContent()).toBe(expected.name);
    const failedCheck = expected.timeline.flatMap((e) => e.checks).find((c) => !c.ok && c.output)!;
    const outputs = await dialog.locator('pre.check-output').allTextContents();
    expect(outputs).toContain(failedCheck.output);
    expect(await dialog.locator('pre.check-output').first().isVisible()).toBe(true);
    expect(await dialog.locator('ol.timeline > li').count()).toBe(expected.timeline.length);

    await page.keyboard.press('Escape');
    expect(await isOpen(page)).toBe(false);
    expect(await active(page, 'data-site')).toBe(site);
    await expectClean(opened);
  });

  it('labels everything in German with lang="de"', async () => {
    const german = await openReport(model, 'de');
    expect(await german.page.getAttribute('html', 'lang')).toBe('de');
    expect(await german.page.locator('#shown').textContent()).toBe('200 von 200 Standorten angezeigt');
    expect(await german.page.locator('.count[data-state="up-to-date"] .word').textContent()).toBe('aktuell');
    await expectClean(german);
    await german.page.close();
  });
});

/**
 * The WCAG contrast ratio of every text element matching `selector` against the first opaque
 * background behind it, computed in the page from the computed styles (colours are rgb()).
 */
const CONTRASTS = `(selector) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length === 3 || c[3] === 1) return c; }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(selector)].filter((e) => e.textContent.trim()).map((e) => {
    const a = lum(rgb(getComputedStyle(e).color)), b = lum(background(e));
    return { text: e.textContent.trim().slice(0, 30), cls: e.className, ratio: Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 100) / 100 };
  });
}`;

describe('report page contrast (WCAG AA, 4.5:1 for text)', () => {
  const TEXT = ['.st .word', '.count .word', '.count .n', '.vers', '.hint', '.shown', 'td.dc', 'th', '.meta .k', '.meta .v', '.mode', '.mode-hint', '.field label', 'option', '.chip', '.facts dt'];
  for (const scheme of ['light', 'dark'] as const) {
    it(`keeps every state badge, label and muted text at 4.5:1 or more in the ${scheme} scheme`, async () => {
      const opened = await openReport(makeReportModel({ sites: 200 }));
      await opened.page.emulateMedia({ colorScheme: scheme });
      const low = [];
      for (const selector of TEXT) {
        const ratios = await opened.page.evaluate<{ text: string; cls: string; ratio: number }[]>(`(${CONTRASTS})(${JSON.stringify(selector)})`);
        expect({ selector, found: ratios.length > 0 }).toEqual({ selector, found: true });
        low.push(...ratios.filter((r) => r.ratio < 4.5).map((r) => ({ selector, ...r })));
      }
      expect(low).toEqual([]);
      await opened.page.close();
    });
  }
});

describe('report page of a hostile model', () => {
  const PAYLOADS = ['<script>window.__pwned=1</script>', '</script>', '<img src=x onerror="window.__pwned=2">', '<!--'];
  const hostile = PAYLOADS.join(' ');
  const escapes = '\u001b[2J\u001b]0;owned\u0007 evil\u202Etxt.exe';

  function hostileModel(): FleetReport {
    const model = makeReportModel({ sites: 20 });
    const site = model.sites.find((s) => s.state === 'failed')!;
    site.name = `x-${hostile}`;
    site.dataCenter = hostile;
    // keys and values that name Object's own properties must stay plain data in the page
    site.labels = { district: hostile, ring: 'main', ['__proto__']: 'constructor' };
    model.labelKeys = ['__proto__', 'district', 'ring'];
    site.timeline[0].outcome = 'constructor';
    const check = site.timeline.flatMap((e) => e.checks).find((c) => !c.ok)!;
    check.output = `${hostile}\n${escapes}`;
    model.inventory = hostile;
    return model;
  }

  it('renders every payload as visible text: nothing runs, no element is added', async () => {
    const opened = await openReport(hostileModel());
    const { page } = opened;
    expect(await pwned(page)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(2);

    await page.fill('#f-search', 'x-<script>');
    expect(await shownCount(page)).toBe(1);
    const row = page.locator('tr.row').first();
    expect(await row.locator('th').textContent()).toBe(`x-${hostile}`);
    expect(await row.locator('td.dc').textContent()).toBe(hostile);
    expect(await page.locator('select[data-label-key="district"] option').allTextContents()).toContain(hostile);
    expect(await page.locator('header .meta .v').first().textContent()).toBe(hostile);
    await page.fill('#f-search', '');
    expect(await page.locator('select[data-label-key="__proto__"] option').allTextContents()).toEqual(['all', 'constructor']);
    await page.selectOption('select[data-label-key="__proto__"]', 'constructor');
    expect(await shownCount(page)).toBe(1);

    await row.focus();
    await page.keyboard.press('Enter');
    const output = page.locator('dialog#detail pre.check-output');
    expect(await output.textContent()).toBe(`${hostile}\n${neutraliseText(escapes)}`);
    expect(await output.textContent()).toContain('␛[2J␛]0;owned␇ evil[U+202E]txt.exe');
    expect(await output.isVisible()).toBe(true);
    expect(await page.locator('dialog#detail .outcome').first().textContent()).toBe('✓ constructor');
    expect(await page.locator('dialog#detail img, dialog#detail script').count()).toBe(0);
    expect(await pwned(page)).toBeUndefined();
    await expectClean(opened);
    await page.close();
  });
});

describe('report page of 11,000 sites × 3 procedures', () => {
  it('opens with a small DOM and reaches the last site by scrolling and by the End key', async () => {
    const model = makeReportModel({ sites: 11_000 });
    const opened = await openReport(model);
    const { page } = opened;
    expect(await shownCount(page)).toBe(11_000);
    expect(await page.locator('#matrix-table').getAttribute('aria-rowcount')).toBe('11001');
    const nodes = await countNodes(page);
    expect(nodes).toBeLessThan(5_000);
    expect(await page.locator('tr.row').count()).toBeLessThan(60);

    await page.locator('#matrix-scroll').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.waitForSelector('tr.row[aria-rowindex="11001"]');
    expect(await countNodes(page)).toBeLessThan(5_000);

    await page.locator('#matrix-scroll').evaluate((el) => el.scrollTo(0, 0));
    await page.waitForSelector('tr.row[aria-rowindex="2"]');
    await page.locator('tr.row[aria-rowindex="2"]').focus();
    await page.keyboard.press('End');
    expect(await active(page, 'aria-rowindex')).toBe('11001');
    const last = [...model.sites].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true, sensitivity: 'base' })).at(-1)!;
    expect(await active(page, 'data-site')).toBe(last.name);
    await page.keyboard.press('Enter');
    expect(await isOpen(page)).toBe(true);
    expect(await page.locator('#detail-title').textContent()).toBe(last.name);
    expect(await countNodes(page)).toBeLessThan(5_000);
    await page.keyboard.press('Escape');
    expect(await isOpen(page)).toBe(false);
    await expectClean(opened);
    await page.close();
  });
});
