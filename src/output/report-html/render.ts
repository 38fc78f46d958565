import { createHash } from 'node:crypto';
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
  const labels = reportLabels[options.lang];
  const data = embedJson({ lang: options.lang, labels, symbols: stateSymbols, states: reportStates, report });
  const csp = contentSecurityPolicy(reportClientScript, reportStyles);
  return [
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
    `<script type="application/json" id="report-data">${data}</script>`,
    `<script>${reportClientScript}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
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
