import { createHash } from 'node:crypto';
import { reportClientScript } from '../../../src/output/report-html/client-script.js';
import { reportLabels, stateSymbols, type ReportLabels } from '../../../src/output/report-html/labels.js';
import { neutraliseText } from '../../../src/output/report-html/neutralise-text.js';
import { embedJson, renderReportHtml, renderReportHtmlChunks } from '../../../src/output/report-html/render.js';
import { reportStyles } from '../../../src/output/report-html/styles.js';
import { reportStates, type FleetReport } from '../../../src/report/types.js';
import { makeReportModel } from '../../helpers/report-model.js';

const HOSTILE = '</script><script>window.__pwned=1</script><!-- <img src=x onerror=alert(1)> \u2028\u2029 & >';

function hostileModel(): FleetReport {
  const model = makeReportModel({ sites: 3 });
  model.inventory = HOSTILE;
  model.sites[0].name = HOSTILE;
  model.sites[0].labels = { district: HOSTILE, [HOSTILE]: 'x' };
  model.sites[0].timeline[0].checks = [{ name: HOSTILE, ok: false, output: `\u001b[2J\u001b]0;title\u0007${HOSTILE}\u202eexe.txt` }];
  return model;
}

/** The text of each `<tag>` block of the page, in order (the page writes each on its own). */
function blocks(html: string, tag: string): { open: string; text: string }[] {
  return [...html.matchAll(new RegExp(`(<${tag}[^>]*>)([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => ({ open: m[1], text: m[2] }));
}

function policyOf(html: string): string {
  const match = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  if (!match) throw new Error('no CSP meta element');
  return match[1];
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

describe('report page: embedding the model', () => {
  it('writes JSON that cannot close its script block, open a comment or break a line, and parses back to the same data', () => {
    const value = { a: '</script><!--<SCRIPT>', b: 'x\u2028y\u2029z', c: 'a & b > c' };
    const json = embedJson(value);
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
    expect(json).toContain('\\u003c/script\\u003e\\u003c!--');
    expect(json).toContain('\\u2028');
    expect(JSON.parse(json)).toEqual(value);
  });

  it('makes terminal escapes and bidi overrides visible in every string of the embedded JSON, keys included, and leaves a literal \\u001b alone', () => {
    const value = { [`k\u001b\u202e`]: ['\u001b[0m\b\f\r\n\t\u0000\u007f\u009b\u2066', 'back\\slash \\u001b \\\u001b'], n: 1, t: true, z: null };
    const json = embedJson(value);
    const deep = (v: unknown): unknown =>
      typeof v === 'string' ? neutraliseText(v) : Array.isArray(v) ? v.map(deep) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [neutraliseText(k), deep(x)])) : v;
    expect(JSON.parse(json)).toEqual(deep(value));
    expect(JSON.parse(json)).toEqual({ 'k␛[U+202E]': ['␛[0m␈␌␍\n\t␀␡\\x9b[U+2066]', 'back\\slash \\u001b \\␛'], n: 1, t: true, z: null });
  });

  it('puts a hostile model into the page only as escaped JSON: two scripts, one style, no event handler or style attribute', () => {
    const html = renderReportHtml(hostileModel(), { lang: 'en' });
    expect(html.match(/<script/gi)).toHaveLength(2);
    expect(html.match(/<\/script/gi)).toHaveLength(2);
    expect(html.match(/<style/gi)).toHaveLength(1);
    expect(html).not.toMatch(/<img|<!--/i);
    expect(html).not.toMatch(/[\u2028\u2029\u001b\u202e]/);
    const data = blocks(html, 'script').find((b) => b.open.includes('report-data'));
    // outside the JSON and the title (where `onerror=` is inert text) no attribute can run or style anything
    expect(html.replace(data!.text, '').replace(blocks(html, 'title')[0].text, '')).not.toMatch(/\son\w+=|\sstyle=/i);
    const parsed = JSON.parse(data!.text) as { report: FleetReport; lang: string };
    expect(parsed.lang).toBe('en');
    expect(parsed.report.sites[0].name).toBe(neutraliseText(HOSTILE));
    expect(parsed.report.sites[0].labels[neutraliseText(HOSTILE)]).toBe('x');
    expect(parsed.report.sites[0].timeline[0].checks[0].output).toBe(`␛[2J␛]0;title␇${neutraliseText(HOSTILE)}[U+202E]exe.txt`);
  });

  it('in pieces (how -o writes 11,000 sites): the same page, the model embedded exactly as in one piece', () => {
    const model = makeReportModel({ sites: 600 });
    // hostile text at both ends of the second piece of sites, and an escaped backslash pair
    for (const at of [255, 256, 511, 512]) {
      model.sites[at]!.name = `${HOSTILE}\\u001b\u001b[0m\u202e`;
      model.sites[at]!.labels = { [HOSTILE]: '\\' };
    }
    const pieces = [...renderReportHtmlChunks(model, { lang: 'de' })];
    expect(pieces.length).toBeGreaterThan(3);
    expect(Math.max(...pieces.map((piece) => piece.length))).toBeLessThan(renderReportHtml(model, { lang: 'de' }).length / 2);
    const html = pieces.join('');
    expect(html).toBe(renderReportHtml(model, { lang: 'de' }));
    const data = blocks(html, 'script').find((b) => b.open.includes('report-data'))!.text;
    expect(data).toBe(embedJson({ lang: 'de', labels: reportLabels.de, symbols: stateSymbols, states: reportStates, report: model }));
    expect(blocks(html, 'script')).toHaveLength(2);
  });

  it('escapes the inventory name in the title', () => {
    const html = renderReportHtml(hostileModel(), { lang: 'de' });
    const title = blocks(html, 'title')[0].text;
    expect(title).toContain('&#60;/script&#62;');
    expect(title).not.toContain('<');
  });
});

describe('report page: terminal escapes and bidi overrides in text', () => {
  it('shows C0 controls as control pictures, DEL as ␡, C1 as \\xNN, keeps newline and tab', () => {
    expect(neutraliseText('\u001b[31mred\u001b[0m\r\n\tx\u0000\u007f')).toBe('␛[31mred␛[0m␍\n\tx␀␡');
    expect(neutraliseText('a\u009b2Jb')).toBe('a\\x9b2Jb');
  });

  it('turns bidi embeddings, overrides, isolates and marks into visible code points', () => {
    expect(neutraliseText('evil\u202Etxt.exe\u2066\u2069\u200f')).toBe('evil[U+202E]txt.exe[U+2066][U+2069][U+200F]');
  });
});

describe('report page: Content-Security-Policy', () => {
  const html = renderReportHtml(makeReportModel({ sites: 5 }), { lang: 'en' });
  const policy = policyOf(html);

  it('allows exactly the inline script and style by the hash of their exact text, nothing from the network', () => {
    const scripts = blocks(html, 'script').filter((b) => !b.open.includes('application/json'));
    const styles = blocks(html, 'style');
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    expect(policy).toBe(
      `default-src 'none'; script-src ${sha256(scripts[0].text)}; style-src ${sha256(styles[0].text)}; img-src data:; base-uri 'none'; form-action 'none'`,
    );
    expect(scripts[0].text).toBe(reportClientScript);
    expect(styles[0].text).toBe(reportStyles);
    expect(policy).not.toMatch(/unsafe|https?:|\*/);
  });

  it('comes before the blocks it governs, and the page names its language', () => {
    expect(html.indexOf('Content-Security-Policy')).toBeLessThan(html.indexOf('<style'));
    expect(html).toMatch(/^<!doctype html>\n<html lang="en" dir="ltr">/);
    expect(renderReportHtml(makeReportModel({ sites: 1 }), { lang: 'de' })).toContain('<html lang="de"');
  });

  it('has a script and stylesheet that cannot end their own block and never parse markup', () => {
    expect(reportClientScript).not.toMatch(/<\/script|<!--/i);
    expect(reportStyles).not.toMatch(/<\/style/i);
    expect(reportClientScript).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    expect(reportClientScript).not.toMatch(/setAttribute\('style'/);
  });
});

describe('report page: labels', () => {
  const keysOf = (labels: ReportLabels) => Object.keys(labels).sort();
  const ledgerOutcomes = ['applied', 'unchanged', 'smoke-failed', 'apply-failed', 'rolled-back', 'tested', 'skipped', 'adopted', 'hold-released'];

  it('has the same keys in German and English, none empty', () => {
    expect(keysOf(reportLabels.de)).toEqual(keysOf(reportLabels.en));
    for (const lang of ['de', 'en'] as const) {
      for (const [key, value] of Object.entries(reportLabels[lang])) {
        if (typeof value === 'string') expect({ lang, key, empty: value.trim() === '' }).toEqual({ lang, key, empty: false });
      }
    }
  });

  it('names every state and every ledger outcome in both languages, and every state has a symbol', () => {
    for (const lang of ['de', 'en'] as const) {
      expect(Object.keys(reportLabels[lang].states).sort()).toEqual([...reportStates].sort());
      expect(Object.keys(reportLabels[lang].outcomeNames).sort()).toEqual([...ledgerOutcomes].sort());
    }
    expect(Object.keys(stateSymbols).sort()).toEqual([...reportStates].sort());
    expect(new Set(Object.values(stateSymbols)).size).toBe(reportStates.length);
  });

  it('defines every label the client script reads', () => {
    const used = new Set([...reportClientScript.matchAll(/\bL\.(\w+)/g)].map((m) => m[1]));
    expect(used.size).toBeGreaterThan(40);
    const missing = [...used].filter((key) => !(key in reportLabels.en));
    expect(missing).toEqual([]);
    // L[env] with env test / prod
    expect(reportLabels.de.test && reportLabels.de.prod).toBeTruthy();
  });

  it('really translates: German differs from English for most labels', () => {
    const same = Object.keys(reportLabels.en).filter((key) => JSON.stringify(reportLabels.en[key as keyof ReportLabels]) === JSON.stringify(reportLabels.de[key as keyof ReportLabels]));
    expect(same.sort()).toEqual(['labels', 'live', 'modeLive', 'modeOffline', 'none', 'version'].sort());
  });
});
