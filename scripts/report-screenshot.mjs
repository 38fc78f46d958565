/**
 * docs/report.png: the report page of a generated 200-site model (test/helpers/report-model.ts)
 * at 1280×800 in Debian's chromium, one filter applied. After `npm run build`:
 *   node scripts/report-screenshot.mjs [out.png] [--lang de|en]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchChromium, loadReportModelGenerator } from './load-report-model.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const langAt = args.indexOf('--lang');
const lang = langAt >= 0 ? args[langAt + 1] : 'en';
const out = path.resolve(args.find((a, i) => !a.startsWith('--') && (langAt < 0 || i !== langAt + 1)) ?? path.join(root, 'docs/report.png'));

const { renderReportHtml } = await import(pathToFileURL(path.join(root, 'dist/output/report-html/render.js')).href);
const { makeReportModel } = await loadReportModelGenerator();
const dir = await mkdtemp(path.join(tmpdir(), 'ozg-report-shot-'));
const context = await launchChromium(path.join(dir, 'profile'));
try {
  const file = path.join(dir, 'report.html');
  await writeFile(file, renderReportHtml(makeReportModel({ sites: 200 }), { lang }));
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('html[data-ready="true"]');
  await page.selectOption('#f-label-0', 'nord');
  await page.locator('tr.row').first().focus();
  await page.screenshot({ path: out });
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
} finally {
  await context.close();
  await rm(dir, { recursive: true, force: true });
}
