import { createHash, randomUUID } from 'node:crypto';
import { reportStates, type FleetReport } from '../../report/types.js';
import { reportClientScript } from './client-script.js';
import { reportLabels, stateSymbols, type ReportLanguage } from './labels.js';
import { neutraliseText, stringifyNeutralised } from './neutralise-text.js';
import { reportStyles } from './styles.js';

export interface RenderReportHtmlOptions {
  lang: ReportLanguage;
}

/**
 * The fleet report as one self-contained HTML file: the model embedded once as JSON, a script
 * that builds the page from it, a stylesheet, and a Content-Security-Policy that allows exactly
 * those two inline blocks (by hash) and nothing from the network. No model text ever becomes
 * markup: the only HTML written here is fixed, and the script sets text via textContent.
 */
export function renderReportHtml(report: FleetReport, options: RenderReportHtmlOptions): string {
  return [...renderReportHtmlChunks(report, options)].join('');
}

/** Sites per chunk of renderReportHtmlChunks: a few hundred KB of text each. */
const SITES_PER_CHUNK = 256;

/**
 * The same page as renderReportHtml, as consecutive pieces of text to write one after the other:
 * the sites are embedded a few hundred at a time, so the page of 11,000 sites (tens of MB) is
 * never one string in memory, nor are its JSON text and escaped copy.
 */
export function* renderReportHtmlChunks(report: FleetReport, options: RenderReportHtmlOptions): Generator<string> {
  const labels = reportLabels[options.lang];
  // the sites' place in the embedded JSON: a string no model text can predict
  const placeholder = `ozg-report-sites-${randomUUID()}`;
  const [before, after] = embedJson({ lang: options.lang, labels, symbols: stateSymbols, states: reportStates, report: { ...report, sites: placeholder } }).split(`"${placeholder}"`);
  const { head, tail } = pageAround(report, options);
  yield head + before + '[';
  // an array's JSON is its elements' JSON joined by commas; each site's text is escaped alone
  // (every escape lies inside one JSON string, so none spans two sites)
  for (let start = 0; start < report.sites.length; start += SITES_PER_CHUNK) {
    const text = report.sites.slice(start, start + SITES_PER_CHUNK).map((site) => embedJson(site)).join(',');
    yield start === 0 ? text : ',' + text;
  }
  yield ']' + after + tail;
}

/** The page's fixed text before and after the embedded JSON. */
function pageAround(report: FleetReport, options: RenderReportHtmlOptions): { head: string; tail: string } {
  const labels = reportLabels[options.lang];
  const csp = contentSecurityPolicy(reportClientScript, reportStyles);
  const head = [
    '<!doctype html>',
    `<html lang="${options.lang}" dir="ltr">`,
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(`${labels.title} · ${neutraliseText(report.inventory)}`)}</title>`,
    `<style>${reportStyles}</style>`,
    '</head>',
    '<body>',
    `<div id="app"><noscript>${escapeHtml(labels.title)}: JavaScript</noscript></div>`,
    '<script type="application/json" id="report-data">',
  ].join('\n');
  const tail = ['</script>', `<script>${reportClientScript}</script>`, '</body>', '</html>', ''].join('\n');
  return { head, tail };
}

/**
 * JSON that cannot end its `<script>` block early or open a comment in it (`<`, `>` and `&`
 * only occur inside JSON strings, where `\u003c` means the same), with U+2028/2029 escaped
 * (line terminators in older JS parsers) and terminal escapes and bidi overrides made visible.
 */
export function embedJson(value: unknown): string {
  return stringifyNeutralised(value);
}

/** The policy allowing only these inline blocks: each hash is over the block's exact text. */
export function contentSecurityPolicy(script: string, style: string): string {
  return [
    "default-src 'none'",
    `script-src '${sha256(script)}'`,
    `style-src '${sha256(style)}'`,
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

function sha256(text: string): string {
  return `sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"'\u2028\u2029]/g, (char) => `&#${char.charCodeAt(0)};`);
}
