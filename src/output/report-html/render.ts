// PLACEHOLDER: replaced by h-rpage's page at merge
import type { FleetReport } from '../../report/types.js';

/** A minimal, correctly escaping page, so the command builds and is tested before the real page lands. */
export function renderReportHtml(report: FleetReport, options: { lang: 'de' | 'en' }): string {
  const rows = report.sites.map((site) => {
    const cells = report.procedures.map((procedure) => {
      const cell = site.cells.find((c) => c.procedure === procedure);
      return `<td>${cell ? escapeHtml(`${cell.state} test ${cell.test?.live ?? cell.test?.recorded ?? '-'} prod ${cell.prod?.live ?? cell.prod?.recorded ?? '-'}`) : ''}</td>`;
    });
    const events = site.timeline.map((event) => escapeHtml(`${event.time} ${event.environment} ${event.procedure} ${event.version} ${event.outcome} ${event.error ?? ''} ${event.checks.map((c) => `${c.name} ${c.output ?? ''}`).join(' ')}`)).join('<br>');
    return `<tr><th scope="row">${escapeHtml(site.name)}</th><td>${escapeHtml(site.state)}</td>${cells.join('')}<td>${events}</td></tr>`;
  });
  const counts = Object.entries(report.counts).map(([state, count]) => `<li>${escapeHtml(state)}: ${count}</li>`);
  return [
    '<!DOCTYPE html>',
    `<html lang="${options.lang}"><head><meta charset="utf-8"><title>ozg</title></head><body>`,
    `<h1>${options.lang === 'de' ? 'Flottenbericht' : 'Fleet report'}</h1>`,
    `<ul>${counts.join('')}</ul>`,
    `<table><thead><tr><th scope="col">site</th><th scope="col">state</th>${report.procedures.map((p) => `<th scope="col">${escapeHtml(p)}</th>`).join('')}<th scope="col">timeline</th></tr></thead>`,
    `<tbody>${rows.join('\n')}</tbody></table>`,
    '</body></html>',
    '',
  ].join('\n');
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text
    .replace(/[&<>"']/g, (char) => ENTITIES[char]!)
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
