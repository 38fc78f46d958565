/**
 * The fleet report page at scale (issue 16): a generated model of 11,000 sites × 3 procedures
 * (test/helpers/report-model.ts) rendered by dist's renderReportHtml, then opened from file://
 * in Debian's headless chromium. After `npm run build`:
 *   node bench/report.mjs [--sites 11000] [--runs 3]
 * Prints numbers, asserts nothing. The render runs in a child process of its own, so its peak
 * RSS is the model's and the render's, not this script's or the browser's.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { launchChromium, loadReportModelGenerator } from '../scripts/load-report-model.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const at = argv.indexOf(name);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};

/** Child: build the model, render it (timed), write the file, report timings and peak RSS. */
async function renderChild(sites, out) {
  const { renderReportHtml } = await import(pathToFileURL(path.join(root, 'dist/output/report-html/render.js')).href);
  const { makeReportModel } = await loadReportModelGenerator();
  const model = makeReportModel({ sites });
  const rssModelMb = process.memoryUsage().rss / 1e6;
  const started = process.hrtime.bigint();
  const html = renderReportHtml(model, { lang: 'en' });
  const renderMs = Number(process.hrtime.bigint() - started) / 1e6;
  await writeFile(out, html);
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ renderMs, rssModelMb, maxRssMb }));
}

function runChild(sites, out) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', String(sites), out], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk) => (text += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`render child exited ${code}`))));
  });
}

/** Opens the page, waits for the matrix, and reads what the page itself measured. */
async function openInChromium(context, url) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"]');
  const measured = await page.evaluate(`(() => {
    const rendered = performance.getEntriesByName('ozg-report-rendered')[0].startTime;
    const w = document.createTreeWalker(document, NodeFilter.SHOW_ALL);
    let nodes = 0;
    while (w.nextNode()) nodes++;
    const search = document.getElementById('f-search');
    const t0 = performance.now();
    search.value = 'bach';
    search.dispatchEvent(new Event('input'));
    const filterMs = performance.now() - t0;
    search.value = '';
    search.dispatchEvent(new Event('input'));
    const heapMb = performance.memory ? performance.memory.usedJSHeapSize / 1e6 : NaN;
    return { rendered, nodes, filterMs, heapMb };
  })()`);
  await page.close();
  return { ...measured, requests: requests.length };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const sites = option('--sites', 11_000);
  const runs = option('--runs', 3);
  const dir = await mkdtemp(path.join(tmpdir(), 'ozg-bench-report-'));
  const file = path.join(dir, 'report.html');
  try {
    const renders = [];
    for (let i = 0; i < runs; i++) renders.push(await runChild(sites, file));
    const html = await readFile(file);
    const context = await launchChromium(path.join(dir, 'profile'));
    const opens = [];
    try {
      for (let i = 0; i < runs; i++) opens.push(await openInChromium(context, pathToFileURL(file).href));
    } finally {
      await context.close();
    }
    printTable(sites, renders, opens, html);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function printTable(sites, renders, opens, html) {
  const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
  const rows = [
    ['render (renderReportHtml, median)', `${median(renders.map((r) => r.renderMs)).toFixed(0)} ms`, '< 3 s'],
    ['peak RSS of model + render (max)', `${Math.max(...renders.map((r) => r.maxRssMb)).toFixed(0)} MB`, '< 500 MB'],
    ['  of which the model alone', `${median(renders.map((r) => r.rssModelMb)).toFixed(0)} MB`, ''],
    ['file size', mb(html.length), '< 50 MB'],
    ['file size gzip', mb(gzipSync(html).length), ''],
    ['chromium: first matrix render (median)', `${median(opens.map((o) => o.rendered)).toFixed(0)} ms`, '< 3 s'],
    ['chromium: DOM nodes', String(Math.max(...opens.map((o) => o.nodes))), '< 5,000'],
    ['chromium: search filter + re-render', `${median(opens.map((o) => o.filterMs)).toFixed(0)} ms`, '< 100 ms'],
    ['chromium: JS heap used', `${median(opens.map((o) => o.heapMb)).toFixed(0)} MB`, ''],
    ['chromium: requests (the file itself)', String(Math.max(...opens.map((o) => o.requests))), '1'],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`\nozg report --html: ${sites.toLocaleString('en')} sites × 3 procedures, ${renders.length} runs`);
  for (const [what, value, goal] of rows) console.log(`  ${what.padEnd(width)}  ${value.padStart(9)}  ${goal ? `goal ${goal}` : ''}`);
  console.log(`  load average: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
}

// last: the helpers above are initialised before either mode runs
if (argv[0] === '--child') await renderChild(Number(argv[1]), argv[2]);
else await main();
