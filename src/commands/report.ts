import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import type { LedgerRecord } from '../ledger/types.js';
import { ExitCode, UsageError } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { exitCodeWithInvalidSites } from '../workspace/selection.js';
import { buildReport, DEFAULT_TIMELINE_LIMIT } from '../report/build-report.js';
import { FleetLedgerCollector } from '../report/ledger-pass.js';
import { chooseReportLanguage, type ReportLanguage } from '../report/language.js';
import { writeReportFile } from '../report/write-report.js';
import { formatReportSummary } from '../output/format-report.js';

interface ReportFlags extends SelectionFlags {
  html?: boolean;
  output?: string;
  offline?: boolean;
  lang?: ReportLanguage;
  timeline?: number;
}

/**
 * `ozg report`: the fleet report. A red fleet is what the page is for, so failed, unreachable
 * or drifted targets still exit 0 once the report is out; only what stops any command
 * (usage, invalid inventory, a file that cannot be written) changes the exit code.
 */
export async function run(context: CommandContext, sites: string[], flags: ReportFlags): Promise<CommandResult> {
  if (flags.output !== undefined && !flags.html) throw new UsageError('-o, --output writes the HTML page: it needs --html', { hint: 'ozg report --html -o report.html' });
  const lang = flags.lang ?? chooseReportLanguage(context.env);
  // the report's ledger pass rides on the workspace's: the file is read and parsed once
  let collector: FleetLedgerCollector | undefined;
  const ledgerObserver = (selected: ReadonlySet<string>) => {
    const created = new FleetLedgerCollector(selected, flags.timeline || DEFAULT_TIMELINE_LIMIT);
    collector = created;
    return (record: LedgerRecord) => created.add(record);
  };
  // handed over once: the records become the model's, not kept alive through the page's render
  const takeFleet = () => {
    const fleet = collector!.finish();
    collector = undefined;
    return fleet;
  };
  const workspace = await openWorkspace(context, { lock: false, command: 'report', secrets: false, selection: { ...flags, sites }, ledgerObserver });
  try {
    const items = workspace.selectItems({ ...flags, sites });
    const report = await buildReport(workspace, items, { offline: Boolean(flags.offline), inventory: context.inventoryPath, fleet: takeFleet() });
    const toFile = flags.html && flags.output !== undefined && flags.output !== '-' ? flags.output : undefined;
    // the page module is loaded only when a page is wanted; into a file it goes piece by piece
    const page = flags.html ? await import('../output/report-html/render.js') : undefined;
    if (toFile !== undefined) await writeReportFile(toFile, page!.renderReportHtmlChunks(report, { lang }));
    const html = page && toFile === undefined ? page.renderReportHtml(report, { lang }) : undefined;
    // --json: the model on stdout; otherwise the page itself (no -o) or a summary line
    context.reporter.result(report, () => html ?? formatReportSummary(report, toFile));
    return { exitCode: exitCodeWithInvalidSites(ExitCode.ok, workspace.invalidSelected) };
  } finally {
    await workspace.close();
  }
}
