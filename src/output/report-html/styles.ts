/**
 * The report page's stylesheet, inlined and allowed by its hash. System fonts only (no
 * network). Every state pairs a dark text colour with a light tint (AA contrast, ≥ 4.5:1, in
 * both schemes) and always comes with its symbol and word, so colour is never the only cue.
 * `.row` height must stay ROW_H (44px) of the client script: the virtual scroll relies on it.
 */
export const reportStyles = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f4f6f8; --card: #ffffff; --fg: #1a202c; --muted: #4a5568; --line: #d9dee5; --head: #eef1f5;
  --accent: #1d4ed8; --focus: #1d4ed8; --top: #1e293b; --top-fg: #f8fafc; --row-hover: #f1f5fb; --bar-prod: #2563eb; --bar-test: #7c3aed;
  --ok-fg: #14532d; --ok-bg: #dcfce7; --pend-fg: #1e3a8a; --pend-bg: #dbeafe; --fail-fg: #991b1b; --fail-bg: #fee2e2;
  --drift-fg: #7c2d12; --drift-bg: #ffedd5; --held-fg: #581c87; --held-bg: #f3e8ff; --unr-fg: #713f12; --unr-bg: #fef3c7;
  --none-fg: #374151; --none-bg: #eceff3;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f141a; --card: #171d25; --fg: #e6eaf0; --muted: #a7b1bf; --line: #2c3541; --head: #1d2530;
    --accent: #93b4ff; --focus: #93b4ff; --top: #0b1016; --top-fg: #f8fafc; --row-hover: #1f2833; --bar-prod: #6d9bff; --bar-test: #b59cff;
    --ok-fg: #bbf7d0; --ok-bg: #12361f; --pend-fg: #bfdbfe; --pend-bg: #172d52; --fail-fg: #fecaca; --fail-bg: #4a1414;
    --drift-fg: #fed7aa; --drift-bg: #47230f; --held-fg: #e9d5ff; --held-bg: #35184f; --unr-fg: #fde68a; --unr-bg: #3f2f0b;
    --none-fg: #d1d5db; --none-bg: #262d37;
  }
}
* { box-sizing: border-box; }
html { font-size: 15px; }
body { margin: 0; background: var(--bg); color: var(--fg); font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; line-height: 1.4; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: .5rem; background: var(--card); color: var(--accent); padding: .4rem .7rem; z-index: 10; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
header.top { background: var(--top); color: var(--top-fg); padding: .9rem 1.5rem .8rem; }
header.top h1 { margin: 0 0 .25rem; font-size: 1.35rem; font-weight: 650; letter-spacing: .01em; }
.meta { margin: 0; display: flex; flex-wrap: wrap; gap: .35rem 1.25rem; align-items: center; font-size: .93rem; }
.meta .k { opacity: .85; }
.meta .v { font-weight: 600; unicode-bidi: isolate; }
.mode { font-weight: 700; text-transform: uppercase; font-size: .75rem; letter-spacing: .06em; padding: .15rem .5rem; border-radius: 999px; }
.mode-live { background: #bbf7d0; color: #14532d; }
.mode-offline { background: #fde68a; color: #713f12; }
.mode-hint { opacity: .85; font-size: .85rem; }
main { padding: 1rem 1.5rem 2rem; display: grid; gap: 1rem; max-width: 1600px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem 1rem; min-width: 0; }
.card h2 { margin: 0 0 .6rem; font-size: 1.05rem; font-weight: 650; }
.card h3 { margin: .9rem 0 .4rem; font-size: .95rem; font-weight: 650; }
.matrix-info { display: flex; flex-wrap: wrap; justify-content: space-between; gap: .2rem 1rem; }
.shown { font-weight: 600; color: var(--fg) !important; }
.hint, .shown, .more, .empty { color: var(--muted); margin: .2rem 0 .5rem; font-size: .9rem; }
.counts { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .5rem; }
.count { display: flex; align-items: baseline; gap: .4rem; border: 1px solid transparent; border-radius: 6px; padding: .4rem .65rem; font: inherit; cursor: pointer; }
.count .n { font-size: 1.35rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.count .sym { font-size: 1.1rem; font-weight: 700; }
.count[aria-pressed="true"] { border-color: currentColor; box-shadow: inset 0 0 0 1px currentColor; }
.counts .total { display: flex; align-items: baseline; gap: .4rem; padding: .45rem .8rem; color: var(--muted); }
.counts .total .n { font-size: 1.45rem; font-weight: 700; color: var(--fg); }
.filters { margin-bottom: .6rem; display: flex; flex-wrap: wrap; gap: .6rem 1rem; align-items: flex-end; }
.field { display: flex; flex-direction: column; gap: .2rem; font-size: .85rem; color: var(--muted); }
.field select, .field input, .reset, .close { font: inherit; font-size: .93rem; color: var(--fg); background: var(--card); border: 1px solid #8792a2; border-radius: 5px; padding: .35rem .5rem; min-height: 2.1rem; }
.field-search input { width: 15rem; }
.reset, .close { cursor: pointer; background: var(--head); }
.matrix-scroll { height: min(62vh, 640px); min-height: 260px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; position: relative; }
table { border-collapse: collapse; width: 100%; }
table.matrix { table-layout: fixed; min-width: 720px; }
.matrix col.c-site { width: 13rem; } .matrix col.c-state { width: 11.5rem; } .matrix col.c-dc { width: 9rem; }
.matrix thead th { position: sticky; top: 0; z-index: 2; background: var(--head); text-align: left; font-size: .85rem; font-weight: 650; padding: .5rem .6rem; border-bottom: 1px solid var(--line); height: 36px; }
.matrix tr.row { height: 44px; cursor: pointer; }
.matrix tr.row > * { border-bottom: 1px solid var(--line); padding: 0 .6rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; vertical-align: middle; height: 44px; max-height: 44px; }
.matrix tr.row:hover { background: var(--row-hover); }
.matrix tr.row:focus { outline: 3px solid var(--focus); outline-offset: -3px; background: var(--row-hover); }
.matrix th.site { font-weight: 600; text-align: left; unicode-bidi: isolate; }
.matrix td.dc { color: var(--muted); font-size: .9rem; }
.matrix td.cell { line-height: 1.15; border-left: 1px solid var(--line); }
.matrix td.cell .st { font-size: .82rem; padding: .05rem .4rem; }
.matrix .vers { display: block; font-size: .78rem; color: var(--muted); font-variant-numeric: tabular-nums; overflow: hidden; text-overflow: ellipsis; margin-top: 2px; }
.matrix tr.spacer td { padding: 0; border: 0; height: inherit; }
.st { display: inline-flex; gap: .3rem; align-items: baseline; border-radius: 4px; padding: .1rem .45rem; font-size: .85rem; font-weight: 600; white-space: nowrap; }
.st-up-to-date { color: var(--ok-fg); background: var(--ok-bg); } .st-pending { color: var(--pend-fg); background: var(--pend-bg); }
.st-failed { color: var(--fail-fg); background: var(--fail-bg); } .st-drift { color: var(--drift-fg); background: var(--drift-bg); }
.st-held { color: var(--held-fg); background: var(--held-bg); } .st-unreachable { color: var(--unr-fg); background: var(--unr-bg); }
.st-not-deployed { color: var(--none-fg); background: var(--none-bg); }
.two-col { display: grid; grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr)); gap: 1rem; align-items: start; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .5rem 1rem; margin: 0; }
.facts dt { font-size: .8rem; color: var(--muted); }
.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; unicode-bidi: isolate; }
.chips, .labels, .checks { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .3rem; }
.chip { border: 1px solid var(--line); border-radius: 4px; padding: .05rem .4rem; font-size: .85rem; font-weight: 500; unicode-bidi: isolate; }
.chip .k { color: var(--muted); }
.outcome-bad { color: var(--fail-fg); } .outcome-ok { color: var(--ok-fg); }
.t th, .t td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); font-size: .9rem; vertical-align: top; overflow-wrap: break-word; }
.t thead th { background: var(--head); font-size: .8rem; color: var(--muted); }
.t tbody th { font-weight: 600; }
tr.has-failed td:last-child { color: var(--fail-fg); font-weight: 700; }
.scroll-box { max-height: 22rem; overflow: auto; border: 1px solid var(--line); border-radius: 4px; }
.scroll-box thead th { position: sticky; top: 0; }
.versions-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: .8rem; }
.version-card h3 { margin-top: .2rem; }
.bar-wrap { display: flex; align-items: center; gap: .4rem; }
.bar-track { flex: 1; height: .55rem; background: var(--head); border-radius: 3px; overflow: hidden; min-width: 3rem; }
.bar { display: block; height: 100%; }
.bar-prod { background: var(--bar-prod); } .bar-test { background: var(--bar-test); }
.bar-n { font-variant-numeric: tabular-nums; min-width: 2.5rem; text-align: right; }
dialog.detail { width: min(60rem, 94vw); max-height: 88vh; border: 1px solid var(--line); border-radius: 8px; padding: 0; background: var(--card); color: var(--fg); }
dialog.detail::backdrop { background: rgba(15, 23, 42, .55); }
.detail-head { display: flex; justify-content: space-between; align-items: center; gap: 1rem; padding: .8rem 1rem; border-bottom: 1px solid var(--line); position: sticky; top: 0; background: var(--card); }
.detail-head h2 { margin: 0; font-size: 1.15rem; overflow-wrap: anywhere; unicode-bidi: isolate; }
.detail-body { padding: .6rem 1rem 1rem; }
.detail h3 { margin: 1rem 0 .4rem; font-size: .95rem; }
.timeline { list-style: none; margin: 0; padding: 0 0 0 1rem; border-left: 3px solid var(--line); }
.event { position: relative; padding: .3rem 0 .6rem .6rem; }
.event::before { content: ""; position: absolute; left: -1.45rem; top: .6rem; width: .7rem; height: .7rem; border-radius: 50%; background: var(--ok-fg); border: 2px solid var(--card); }
.event-failed::before { background: var(--fail-fg); }
.event-head { margin: 0; display: flex; flex-wrap: wrap; gap: .2rem .8rem; align-items: baseline; font-size: .9rem; }
.event-head .what { font-weight: 650; unicode-bidi: isolate; }
.event-head .when, .event-head .dur, .event-run { color: var(--muted); font-variant-numeric: tabular-nums; }
.event-run { margin: .1rem 0 .2rem; font-size: .8rem; }
.env { font-size: .75rem; font-weight: 700; text-transform: uppercase; border: 1px solid var(--line); border-radius: 3px; padding: 0 .3rem; }
.checks { flex-direction: column; gap: .15rem; margin-top: .2rem; }
.checks li { font-size: .88rem; }
.checks .sym { display: inline-block; width: 1.2rem; font-weight: 700; }
.check-ok .sym { color: var(--ok-fg); } .check-failed .sym, .check-failed .name { color: var(--fail-fg); font-weight: 650; }
.label { margin: .3rem 0 .1rem; font-size: .8rem; color: var(--muted); }
pre.output { margin: 0; padding: .5rem .6rem; background: var(--head); border: 1px solid var(--line); border-left: 3px solid var(--fail-fg); border-radius: 4px; max-height: 16rem; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: .82rem; unicode-bidi: isolate; }
`;
