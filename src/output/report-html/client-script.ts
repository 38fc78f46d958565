/**
 * The report page's script, as text: it is inlined into the page (CSP allows it by its hash),
 * so it must not depend on anything but the DOM. It reads the model from the
 * `report-data` JSON block and builds every element with createElement + textContent (never
 * innerHTML), sets sizes through the CSSOM (style attributes would need 'unsafe-inline').
 *
 * The matrix is virtualised: rows have a fixed height (ROW_H px, the same as `.row` in the
 * styles), the table holds only the rows in view plus OVERSCAN on each side between two spacer
 * rows, so 11,000 sites cost as much DOM as 40. `aria-rowcount` / `aria-rowindex` tell
 * assistive technology the full size.
 *
 * Plain ES2020 in String.raw: no backticks and no dollar-brace inside, no TypeScript.
 */
const prelude = String.raw`
var payload = JSON.parse(document.getElementById('report-data').textContent);
var R = payload.report, L = payload.labels, SYM = payload.symbols, LANG = payload.lang, STATES = payload.states;
var ROW_H = 44, OVERSCAN = 8;
var numberFormat = new Intl.NumberFormat(LANG);
var collator = new Intl.Collator(LANG, { numeric: true, sensitivity: 'base' });
var rank = {};
STATES.forEach(function (s, i) { rank[s] = i; });

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function add(parent) {
  for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]);
  return parent;
}
function fill(tpl, values) {
  return tpl.replace(/\{(\w+)\}/g, function (_, key) { return String(values[key]); });
}
function num(n) { return numberFormat.format(n); }
/** a label or symbol by a key from the model: only own keys, so 'constructor' stays a word */
function own(map, key) { return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined; }
function envName(env) { return env === 'test' || env === 'prod' ? L[env] : String(env); }
function fmtTime(iso) {
  var d = new Date(iso);
  if (isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}
function fmtDuration(ms) {
  if (!(ms >= 0)) return L.none;
  if (ms < 1000) return Math.round(ms) + ' ms';
  var s = Math.round(ms / 1000);
  if (s < 60) return s + ' s';
  var m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + (s % 60) + ' s';
  return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}
function badge(state) {
  var b = el('span', 'st st-' + state);
  var sym = el('span', 'sym', own(SYM, state) || '?');
  sym.setAttribute('aria-hidden', 'true');
  return add(b, sym, el('span', 'word', own(L.states, state) || state));
}
function outcomeName(outcome) { return own(L.outcomeNames, outcome) || outcome; }
function isFailure(outcome) { return /failed|rolled-back/.test(outcome); }
function heading(level, text, id) {
  var h = el('h' + level, null, text);
  if (id) h.id = id;
  return h;
}
function section(id, title) {
  var s = el('section', 'card');
  s.setAttribute('aria-labelledby', id + '-title');
  s.id = id;
  return add(s, heading(2, title, id + '-title'));
}
function table(cls, headers) {
  var t = el('table', 't ' + cls);
  var tr = el('tr');
  headers.forEach(function (h) {
    var th = el('th', null, h);
    th.setAttribute('scope', 'col');
    tr.appendChild(th);
  });
  add(t, add(el('thead'), tr), el('tbody'));
  return t;
}
function addRow(t, cells) {
  var tr = el('tr');
  cells.forEach(function (c, i) {
    var cell = el(i === 0 ? 'th' : 'td');
    if (i === 0) cell.setAttribute('scope', 'row');
    if (c instanceof Node) cell.appendChild(c); else cell.textContent = c === undefined || c === null ? L.none : String(c);
    tr.appendChild(cell);
  });
  t.tBodies[0].appendChild(tr);
  return tr;
}
function dl(pairs) {
  var d = el('dl', 'facts');
  pairs.forEach(function (p) {
    var v = el('dd');
    if (p[1] instanceof Node) v.appendChild(p[1]); else v.textContent = p[1] === undefined || p[1] === null ? L.none : String(p[1]);
    add(d, add(el('div'), el('dt', null, p[0]), v));
  });
  return d;
}
function versionOf(target) {
  if (!target) return L.none;
  var v = target.live || target.recorded;
  if (!v) return L.none;
  if (target.desired && v !== target.desired && target.state !== 'up-to-date') return v + '→' + target.desired;
  return v;
}
function reasonsOf(cell) {
  return ['test', 'prod'].filter(function (env) { return cell[env] && cell[env].reason; })
    .map(function (env) { return L[env] + ': ' + cell[env].reason; }).join('\n');
}
`;

const header = String.raw`
function buildHeader() {
  var h = el('header', 'top');
  var skip = el('a', 'skip', L.skipToMatrix);
  skip.href = '#matrix-scroll';
  var mode = el('span', 'mode ' + (R.live ? 'mode-live' : 'mode-offline'), R.live ? L.modeLive : L.modeOffline);
  mode.title = R.live ? L.modeLiveHint : L.modeOfflineHint;
  var meta = add(el('p', 'meta'),
    add(el('span'), el('span', 'k', L.inventory + ': '), el('span', 'v', R.inventory)),
    add(el('span'), el('span', 'k', L.generated + ': '), el('time', 'v', fmtTime(R.generatedAt))),
    mode, el('span', 'mode-hint', R.live ? L.modeLiveHint : L.modeOfflineHint));
  return add(h, skip, heading(1, L.title), meta);
}
function buildCounts() {
  var s = section('summary', L.summary);
  var list = el('ul', 'counts');
  STATES.forEach(function (state) {
    var b = add(el('button', 'count st-' + state), el('span', 'sym', SYM[state]), el('span', 'n', num(R.counts[state] || 0)), el('span', 'word', L.states[state]));
    b.type = 'button';
    b.setAttribute('data-state', state);
    b.setAttribute('aria-pressed', 'false');
    b.firstChild.setAttribute('aria-hidden', 'true');
    b.addEventListener('click', function () { setStateFilter(view.state === state ? '' : state); });
    list.appendChild(add(el('li'), b));
  });
  var total = add(el('li', 'total'), el('span', 'n', num(R.sites.length)), el('span', 'word', L.sitesTotal));
  return add(s, add(list, total));
}
`;

const filters = String.raw`
var view = { state: '', labels: Object.create(null), q: '', sort: 'name', rows: [], active: 0, range: null };
var controls = {};
var names = R.sites.map(function (s) { return String(s.name).toLowerCase(); });

function select(id, label, options, onChange) {
  var wrap = el('div', 'field');
  var l = el('label', null, label);
  l.htmlFor = id;
  var sel = el('select');
  sel.id = id;
  options.forEach(function (o) {
    var opt = el('option', null, o[1]);
    opt.value = o[0];
    sel.appendChild(opt);
  });
  sel.addEventListener('change', function () { onChange(sel.value); });
  return { wrap: add(wrap, l, sel), input: sel };
}
function labelValues(key) {
  var seen = Object.create(null);
  R.sites.forEach(function (s) { if (Object.prototype.hasOwnProperty.call(s.labels, key)) seen[s.labels[key]] = true; });
  return Object.keys(seen).sort(collator.compare);
}
function buildFilters() {
  var bar = el('div', 'filters');
  bar.setAttribute('role', 'group');
  bar.setAttribute('aria-label', L.filters);
  var search = el('input');
  search.type = 'search';
  search.id = 'f-search';
  search.placeholder = L.searchPlaceholder;
  search.autocomplete = 'off';
  search.addEventListener('input', function () { view.q = search.value.trim().toLowerCase(); applyFilters(); });
  var sl = el('label', null, L.search);
  sl.htmlFor = 'f-search';
  controls.search = search;
  add(bar, add(el('div', 'field field-search'), sl, search));
  var st = select('f-state', L.filterState, [['', L.filterAll]].concat(STATES.map(function (s) { return [s, SYM[s] + ' ' + L.states[s]]; })), setStateFilter);
  controls.state = st.input;
  bar.appendChild(st.wrap);
  controls.labels = Object.create(null);
  R.labelKeys.forEach(function (key, i) {
    var f = select('f-label-' + i, key, [['', L.filterAll]].concat(labelValues(key).map(function (v) { return [v, v]; })), function (v) {
      if (v) view.labels[key] = v; else delete view.labels[key];
      applyFilters();
    });
    f.input.setAttribute('data-label-key', key);
    controls.labels[key] = f.input;
    bar.appendChild(f.wrap);
  });
  var so = select('f-sort', L.sort, [['name', L.sortName], ['state', L.sortState], ['dataCenter', L.sortDataCenter]], function (v) { view.sort = v; applyFilters(); });
  bar.appendChild(so.wrap);
  var reset = el('button', 'reset', L.reset);
  reset.type = 'button';
  reset.addEventListener('click', resetFilters);
  return add(bar, reset);
}
function resetFilters() {
  view.q = ''; view.labels = Object.create(null); view.state = '';
  controls.search.value = '';
  controls.state.value = '';
  Object.keys(controls.labels).forEach(function (k) { controls.labels[k].value = ''; });
  setStateFilter('');
}
function setStateFilter(state) {
  view.state = state;
  controls.state.value = state;
  document.querySelectorAll('.count[data-state]').forEach(function (b) {
    b.setAttribute('aria-pressed', b.getAttribute('data-state') === state ? 'true' : 'false');
  });
  applyFilters();
}
function matches(site, i) {
  if (view.state && site.state !== view.state) return false;
  if (view.q && names[i].indexOf(view.q) < 0) return false;
  for (var key in view.labels) if (own(site.labels, key) !== view.labels[key]) return false;
  return true;
}
function compareRows(a, b) {
  var sa = R.sites[a], sb = R.sites[b], d = 0;
  if (view.sort === 'state') d = rank[sa.state] - rank[sb.state];
  else if (view.sort === 'dataCenter') d = collator.compare(sa.dataCenter, sb.dataCenter);
  return d || collator.compare(sa.name, sb.name) || a - b;
}
function applyFilters() {
  var rows = [];
  for (var i = 0; i < R.sites.length; i++) if (matches(R.sites[i], i)) rows.push(i);
  rows.sort(compareRows);
  view.rows = rows;
  view.active = 0;
  view.range = null;
  var shown = document.getElementById('shown');
  shown.textContent = fill(L.shown, { shown: num(rows.length), total: num(R.sites.length) });
  shown.setAttribute('data-shown', String(rows.length));
  matrix.table.setAttribute('aria-rowcount', String(rows.length + 1));
  matrix.empty.hidden = rows.length > 0;
  matrix.scroll.scrollTop = 0;
  renderRows(true);
}
`;

const matrixCode = String.raw`
var matrix = {};
function buildMatrix() {
  var s = section('matrix', L.matrix);
  var hint = el('p', 'hint', L.matrixHint);
  hint.id = 'matrix-hint';
  var shown = el('p', 'shown');
  shown.id = 'shown';
  shown.setAttribute('aria-live', 'polite');
  var scroll = el('div', 'matrix-scroll');
  scroll.id = 'matrix-scroll';
  scroll.tabIndex = -1;
  var t = el('table', 'matrix');
  t.id = 'matrix-table';
  t.setAttribute('aria-describedby', 'matrix-hint');
  t.setAttribute('aria-colcount', String(3 + R.procedures.length));
  add(t, el('caption', 'sr-only', L.matrix));
  var colgroup = add(el('colgroup'), el('col', 'c-site'), el('col', 'c-state'), el('col', 'c-dc'));
  R.procedures.forEach(function () { colgroup.appendChild(el('col', 'c-proc')); });
  t.appendChild(colgroup);
  var tr = el('tr');
  tr.setAttribute('aria-rowindex', '1');
  [L.site, L.state, L.dataCenter].concat(R.procedures).forEach(function (h) {
    var th = el('th', null, h);
    th.setAttribute('scope', 'col');
    tr.appendChild(th);
  });
  var body = el('tbody');
  add(t, add(el('thead'), tr), body);
  var empty = el('p', 'empty', L.noSites);
  empty.hidden = true;
  matrix = { table: t, body: body, scroll: scroll, empty: empty, head: tr };
  body.addEventListener('keydown', onRowKey);
  body.addEventListener('click', function (e) {
    var row = e.target.closest('tr.row');
    if (!row) return;
    setActive(Number(row.getAttribute('data-pos')));
    openDetail(view.rows[view.active]);
  });
  body.addEventListener('focusin', function (e) {
    var row = e.target.closest('tr.row');
    if (row) setActive(Number(row.getAttribute('data-pos')));
  });
  var pending = false;
  scroll.addEventListener('scroll', function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; renderRows(false); });
  });
  return add(s, buildFilters(), add(el('div', 'matrix-info'), shown, hint), add(scroll, t), empty);
}
function spacer(height) {
  var tr = el('tr', 'spacer');
  tr.setAttribute('aria-hidden', 'true');
  var td = el('td');
  td.colSpan = 3 + R.procedures.length;
  tr.appendChild(td);
  tr.style.height = height + 'px';
  return tr;
}
function siteRow(pos) {
  var site = R.sites[view.rows[pos]];
  var tr = el('tr', 'row');
  tr.setAttribute('aria-rowindex', String(pos + 2));
  tr.setAttribute('data-pos', String(pos));
  tr.setAttribute('data-site', site.name);
  tr.tabIndex = pos === view.active ? 0 : -1;
  var th = el('th', 'site', site.name);
  th.setAttribute('scope', 'row');
  add(tr, th, add(el('td', 'state'), badge(site.state)), el('td', 'dc', site.dataCenter));
  var cells = Object.create(null);
  site.cells.forEach(function (c) { cells[c.procedure] = c; });
  R.procedures.forEach(function (p) {
    var c = cells[p];
    var td = el('td', 'cell');
    if (c) {
      td.className = 'cell cell-' + c.state;
      add(td, badge(c.state), el('span', 'vers', L.test + ' ' + versionOf(c.test) + ' · ' + L.prod + ' ' + versionOf(c.prod)));
      var why = reasonsOf(c);
      if (why) td.title = why;
    } else td.textContent = L.none;
    tr.appendChild(td);
  });
  return tr;
}
function renderRows(force) {
  var headH = matrix.head.offsetHeight || ROW_H;
  var viewH = matrix.scroll.clientHeight || 600;
  var total = view.rows.length;
  var first = Math.max(0, Math.floor((matrix.scroll.scrollTop - headH) / ROW_H) - OVERSCAN);
  var last = Math.min(total, first + Math.ceil(viewH / ROW_H) + 2 * OVERSCAN);
  if (!force && view.range && view.range[0] === first && view.range[1] === last) return;
  view.range = [first, last];
  var hadFocus = matrix.body.contains(document.activeElement);
  var frag = document.createDocumentFragment();
  frag.appendChild(spacer(first * ROW_H));
  for (var pos = first; pos < last; pos++) frag.appendChild(siteRow(pos));
  frag.appendChild(spacer((total - last) * ROW_H));
  matrix.body.replaceChildren(frag);
  if (hadFocus) focusActive();
}
function focusActive() {
  var row = matrix.body.querySelector('tr.row[data-pos="' + view.active + '"]');
  if (row) row.focus({ preventScroll: true });
}
function setActive(pos) {
  if (pos === view.active) return;
  var old = matrix.body.querySelector('tr.row[tabindex="0"]');
  if (old) old.tabIndex = -1;
  view.active = pos;
  var row = matrix.body.querySelector('tr.row[data-pos="' + pos + '"]');
  if (row) row.tabIndex = 0;
}
function moveTo(pos) {
  pos = Math.max(0, Math.min(view.rows.length - 1, pos));
  setActive(pos);
  var headH = matrix.head.offsetHeight;
  var top = headH + pos * ROW_H, sc = matrix.scroll;
  if (top - headH < sc.scrollTop) sc.scrollTop = top - headH;
  else if (top + ROW_H > sc.scrollTop + sc.clientHeight) sc.scrollTop = top + ROW_H - sc.clientHeight;
  renderRows(true);
  focusActive();
}
function onRowKey(e) {
  var page = Math.max(1, Math.floor(matrix.scroll.clientHeight / ROW_H) - 1);
  var moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
  if (e.key in moves) moveTo(view.active + moves[e.key]);
  else if (e.key === 'Home') moveTo(0);
  else if (e.key === 'End') moveTo(view.rows.length - 1);
  else if (e.key === 'Enter' || e.key === ' ') openDetail(view.rows[view.active]);
  else return;
  e.preventDefault();
}
`;

const detailCode = String.raw`
var detail;
function buildDetail() {
  detail = el('dialog', 'detail');
  detail.id = 'detail';
  detail.setAttribute('aria-labelledby', 'detail-title');
  detail.addEventListener('close', focusActive);
  detail.addEventListener('click', function (e) { if (e.target === detail) detail.close(); });
  return detail;
}
function openDetail(index) {
  var site = R.sites[index];
  if (!site) return;
  var close = el('button', 'close', L.close);
  close.type = 'button';
  close.addEventListener('click', function () { detail.close(); });
  var title = heading(2, site.name, 'detail-title');
  var labelList = el('ul', 'labels');
  Object.keys(site.labels).sort(collator.compare).forEach(function (k) {
    labelList.appendChild(add(el('li', 'chip'), el('span', 'k', k + '='), el('span', 'v', site.labels[k])));
  });
  var facts = dl([[L.state, badge(site.state)], [L.dataCenter, site.dataCenter], [L.labels, labelList]]);
  var targets = table('targets', [L.procedure, L.environment, L.state, L.desired, L.live, L.recorded, L.reason]);
  site.cells.forEach(function (c) {
    ['test', 'prod'].forEach(function (env) {
      var t = c[env];
      if (t) addRow(targets, [c.procedure, envName(env), badge(t.state), t.desired, t.live, t.recorded, t.reason]);
    });
  });
  var body = add(el('div', 'detail-body'), facts, heading(3, L.targets), targets, heading(3, L.timeline), buildTimeline(site));
  detail.replaceChildren(add(el('div', 'detail-head'), title, close), body);
  if (!detail.open) detail.showModal();
  close.focus();
}
function buildTimeline(site) {
  if (!site.timeline.length) return el('p', 'empty', L.noTimeline);
  var list = el('ol', 'timeline');
  site.timeline.forEach(function (ev) {
    var li = el('li', 'event' + (isFailure(ev.outcome) ? ' event-failed' : ''));
    var outcome = el('span', 'outcome ' + (isFailure(ev.outcome) ? 'outcome-bad' : 'outcome-ok'), (isFailure(ev.outcome) ? '✗ ' : '✓ ') + outcomeName(ev.outcome));
    var head = add(el('p', 'event-head'), el('time', 'when', fmtTime(ev.time)), el('span', 'what', ev.procedure + ' ' + ev.version),
      el('span', 'env env-' + ev.environment, envName(ev.environment)), outcome, el('span', 'dur', fmtDuration(ev.durationMs)));
    var runLine = el('p', 'event-run', L.run + ': ' + ev.run);
    add(li, head, runLine);
    if (ev.error) add(li, el('p', 'label', L.error), el('pre', 'output error-output', ev.error));
    if (ev.checks.length) {
      var checks = el('ul', 'checks');
      checks.setAttribute('aria-label', L.checks);
      ev.checks.forEach(function (c) {
        var item = add(el('li', c.ok ? 'check-ok' : 'check-failed'), el('span', 'sym', c.ok ? '✓' : '✗'), el('span', 'name', c.name));
        if (!c.ok && c.output) add(item, el('p', 'label', L.checkOutput), el('pre', 'output check-output', c.output));
        checks.appendChild(item);
      });
      li.appendChild(checks);
    }
    list.appendChild(li);
  });
  return list;
}
`;

const sectionsCode = String.raw`
function buildRollout() {
  var s = section('rollout', L.lastRollout);
  var r = R.lastRollout;
  if (!r) return add(s, el('p', 'empty', L.noRollout));
  var outcomes = el('ul', 'chips');
  Object.keys(r.outcomes).sort().forEach(function (o) {
    outcomes.appendChild(add(el('li', 'chip ' + (isFailure(o) ? 'outcome-bad' : 'outcome-ok')), el('span', 'k', outcomeName(o) + ': '), el('span', 'v', num(r.outcomes[o]))));
  });
  add(s, dl([[L.run, r.run], [L.actor, r.actor], [L.started, fmtTime(r.started)], [L.finished, fmtTime(r.finished)],
    [L.duration, fmtDuration(r.durationMs)], [L.sites, num(r.sites)], [L.targetsCount, num(r.targets)], [L.outcomes, outcomes]]));
  if (r.waves.length) {
    var waves = table('waves', [L.wave, L.sites, L.failed]);
    r.waves.forEach(function (w) { addRow(waves, [w.name, num(w.sites), num(w.failed)]).className = w.failed ? 'has-failed' : ''; });
    add(s, heading(3, L.waves), waves);
  }
  add(s, heading(3, L.failures));
  if (!r.failures.length) return add(s, el('p', 'empty', L.noFailures));
  var failures = table('failures', [L.site, L.procedure, L.environment, L.reason]);
  r.failures.slice(0, 50).forEach(function (f) { addRow(failures, [f.site, f.procedure, envName(f.environment), f.reason]); });
  // a region of its own: a failed wave lists many sites, the page around it stays short
  var box = add(el('div', 'scroll-box'), failures);
  box.tabIndex = 0;
  box.setAttribute('role', 'region');
  box.setAttribute('aria-label', L.failures);
  add(s, box);
  if (r.failures.length > 50) s.appendChild(el('p', 'more', fill(L.more, { count: num(r.failures.length - 50) })));
  return s;
}
function buildVersions() {
  var s = section('versions', L.versions);
  s.appendChild(el('p', 'hint', L.versionsHint));
  var grid = el('div', 'versions-grid');
  R.versions.forEach(function (v) {
    var card = add(el('div', 'version-card'), heading(3, v.procedure));
    var byVersion = Object.create(null), order = [], max = 1;
    ['prod', 'test'].forEach(function (env) {
      v[env].forEach(function (e) {
        if (!byVersion[e.version]) { byVersion[e.version] = { prod: 0, test: 0 }; order.push(e.version); }
        byVersion[e.version][env] = e.sites;
        max = Math.max(max, e.sites);
      });
    });
    if (!order.length) return grid.appendChild(add(card, el('p', 'empty', L.noVersions)));
    var t = table('version-table', [L.version, L.prod, L.test]);
    order.forEach(function (ver) {
      addRow(t, [ver, bar(byVersion[ver].prod, max, 'bar-prod'), bar(byVersion[ver].test, max, 'bar-test')]);
    });
    grid.appendChild(add(card, t));
  });
  return add(s, grid);
}
function bar(n, max, cls) {
  var wrap = el('span', 'bar-wrap');
  var b = el('span', 'bar ' + cls);
  b.setAttribute('aria-hidden', 'true');
  b.style.width = Math.round((n / max) * 100) + '%';
  return add(wrap, add(el('span', 'bar-track'), b), el('span', 'bar-n', num(n)));
}
function start() {
  var app = document.getElementById('app');
  var main = el('main');
  add(main, buildCounts(), buildMatrix(), add(el('div', 'two-col'), buildRollout(), buildVersions()));
  app.replaceChildren(buildHeader(), main, buildDetail());
  applyFilters();
  performance.mark('ozg-report-rendered');
  document.documentElement.setAttribute('data-ready', 'true');
}
start();
`;

/** The whole script, wrapped so nothing leaks into the page's global scope. */
export const reportClientScript = `(function () {\n'use strict';\n${[prelude, header, filters, matrixCode, detailCode, sectionsCode].join('\n')}\n})();\n`;
