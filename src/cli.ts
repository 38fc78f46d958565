import { readFileSync } from 'node:fs';
import { Argument, Command, CommanderError, Help, InvalidArgumentError, Option } from 'commander';
import { describeError, ExitCode, InvalidInputError, OzgError, RecordWriteError, UsageError, formatProblem } from './errors.js';
import type { CommandContext, CommandResult } from './commands/context.js';
import type { Reporter } from './events.js';
import { createSecretRedactor, type SecretRedactor } from './inventory/secret-redactor.js';
import { escapeControlCharacters, stringifyJson } from './output/escape-control.js';

interface GlobalFlags {
  inventory?: string;
  json?: boolean;
  color?: boolean;
  acceptNewHostKeys?: boolean;
}

type CommandModule = { run(context: CommandContext, ...args: any[]): Promise<CommandResult> };

/**
 * Builds the program and runs it. The only place that turns outcomes into exit codes;
 * command modules are imported when their command runs, so `--help` loads nothing heavy.
 */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const cli: CliIo = { ...defaultIo(), ...io };
  if (argv[2] === COMPLETE_COMMAND) return answerCompletion(argv.slice(3), cli);
  let exitCode: number = ExitCode.ok;
  const controller = new AbortController();
  const stops = new Set<() => Promise<void>>();
  let leaving = false;
  // the running command's reporter: on a terminal its spinner would wipe a line written past it
  let activeReporter: Reporter | undefined;
  const onSignal = () => {
    if (!controller.signal.aborted) {
      const message = 'interrupted: stopping after the steps in flight, which are finished and recorded; sites not yet started are skipped (Ctrl-C again to stop now)';
      if (activeReporter) activeReporter.emit({ type: 'warning', message });
      else cli.stderr.write(message + '\n');
      controller.abort();
      return;
    }
    // A second Ctrl-C: leave now, but first end the scripts still running (they run in their
    // own process groups, out of the terminal's reach) and release the lock, so the next run
    // never installs on a target this one is still installing on.
    if (leaving) return;
    leaving = true;
    cli.stderr.write('interrupted again: stopping running scripts, releasing the lock\n');
    void Promise.allSettled([...stops].map((stop) => stop())).then(() => process.exit(ExitCode.interrupted));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // every secret value a command resolves is added here; all output passes through it
  const redactor = createSecretRedactor();
  const program = buildProgram(async (load, args, command) => {
    const flags = command.optsWithGlobals() as GlobalFlags;
    const reporter = await createCliReporter(flags, cli, redactor);
    activeReporter = reporter;
    const context: CommandContext = {
      cwd: cli.cwd,
      env: cli.env,
      reporter,
      signal: controller.signal,
      inventoryPath: flags.inventory ?? cli.env.OZG_INVENTORY ?? 'sites.yaml',
      interactive: Boolean(cli.stdin.isTTY && cli.stderr.isTTY),
      acceptNewHostKeys: Boolean(flags.acceptNewHostKeys),
      confirm: (question) => askYesNo(question, cli),
      onStopNow: (stop) => {
        stops.add(stop);
        return () => stops.delete(stop);
      },
      redactor,
    };
    try {
      const module = await load();
      const result = await module.run(context, ...args);
      exitCode = controller.signal.aborted ? ExitCode.interrupted : result.exitCode;
    } catch (error) {
      exitCode = reportError(error, cli, Boolean(flags.json), redactor);
    } finally {
      activeReporter = undefined;
      reporter.close();
    }
  }, cli, { json: wantsJson(argv) });

  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      // with --json a pipeline reads stdout only: the usage error is one error line there too
      if (exitCode !== ExitCode.ok && wantsJson(argv)) reportError(asUsageError(error), cli, true, redactor);
    } else exitCode = reportError(error, cli, wantsJson(argv), redactor);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return exitCode;
}

/** The hidden command the completion scripts call: `ozg __complete <words…>`, the last word being completed. */
const COMPLETE_COMMAND = '__complete';

/**
 * The candidates for a shell's completion, one a line, from commander's own definitions and the
 * inventory's names. Answered before commander parses anything, as the words are a partial
 * command line (`-h`, unknown flags); never an error: no candidates instead.
 */
async function answerCompletion(words: string[], cli: CliIo): Promise<number> {
  try {
    const { completeWords, inventoryPathOf, readInventoryNames } = await import('./commands/complete.js');
    const program = programDefinitions();
    const names = await readInventoryNames(inventoryPathOf(words, cli.env), cli.cwd);
    const candidates = completeWords(program, words.length > 0 ? words : [''], names);
    if (candidates.length > 0) cli.stdout.write(candidates.join('\n') + '\n');
  } catch {
    // a completion that fails offers nothing rather than printing into the user's command line
  }
  return ExitCode.ok;
}

/** The program's definitions (commands, options, arguments) without running anything: what completion reads. */
export function programDefinitions(): Command {
  return buildProgram(async () => {}, defaultIo(), { json: false });
}

export interface CliIo {
  cwd: string;
  env: Record<string, string | undefined>;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

function defaultIo(): CliIo {
  return { cwd: process.cwd(), env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
}

/** The commands that connect to targets, so `--accept-new-host-keys` means something to them. */
const CONTACTS_VM_TARGETS = new Set(['deploy', 'plan', 'status', 'test', 'rollback', 'clone-procedure', 'report']);

/** A command's help lists the global options it honours too (-i, --json, …); --version is the program's own. */
const helpWithGlobalOptions: Partial<Help> = {
  showGlobalOptions: true,
  visibleGlobalOptions(this: Help, command: Command) {
    return Help.prototype.visibleGlobalOptions
      .call(this, command)
      .filter((option) => option.long !== '--version' && (option.long !== '--accept-new-host-keys' || CONTACTS_VM_TARGETS.has(command.name())));
  },
};

/** The selection flags of the commands that act on sites. */
function selection(command: Command): Command {
  return command
    .argument('[sites...]', 'site names (default: all sites, or those matching --selector)')
    .option('-l, --selector <labels>', 'label selector, e.g. "state=SH,ring!=canary"')
    .option('-p, --procedure <names...>', 'only these procedures')
    .option('--shard <i/n>', "this runner's share of the selected sites (stable by site name), for CI matrix jobs");
}

type Dispatch = (load: () => Promise<CommandModule>, args: unknown[], command: Command) => Promise<void>;

function buildProgram(dispatch: Dispatch, cli: CliIo, options: { json: boolean }): Command {
  const program = new Command('ozg')
    .description('Roll out and keep current the procedures of many municipalities, test-gated, across existing data centers.')
    .version(readVersion(), '-V, --version')
    .option('-i, --inventory <file>', 'site inventory (default: $OZG_INVENTORY or ./sites.yaml)')
    .option('--json', 'machine-readable output: one JSON object per line on stdout')
    .option('--no-color', 'no colours (NO_COLOR is honoured too)')
    .option('--accept-new-host-keys', 'vm: record SSH host keys not yet in known_hosts (changed keys are always refused)')
    .configureHelp(helpWithGlobalOptions)
    .showHelpAfterError('(run `ozg --help` for usage)')
    // with --json, commander's own error text is replaced by the JSON error line (main)
    .configureOutput({ writeOut: (s) => cli.stdout.write(s), writeErr: (s) => (options.json ? undefined : cli.stderr.write(s)) })
    .exitOverride();

  const environment = new Option('-e, --env <environment>', 'only this environment').choices(['test', 'prod']);
  const action = (load: () => Promise<CommandModule>) =>
    function (this: Command, ...args: unknown[]) {
      return dispatch(load, args.slice(0, -1), this);
    };

  selection(program.command('deploy'))
    .description('render, apply to test, smoke-test, then apply to prod and smoke-test again; records every step')
    .option('-c, --concurrency <n>', 'sites deployed at once', parsePositiveInt)
    .option('--only-test', 'stop after the test environment')
    .option('--reinstall', 'apply the desired release again where it is already live (repairs what `ozg verify` reports), test then prod, smoke-tested and recorded')
    .option('--waves <spec>', 'deploy in waves, each finished before the next: counts and percentages (cumulative) or label selectors, e.g. "1,10%,100%" or "ring=canary,ring=main"')
    .option('--max-failures <n|%>', 'stop starting sites once more than this many (or this share) failed; the rest are reported as skipped')
    .option('--canary-only', "sharded CI: deploy only the first of --waves for the whole fleet, once, before any shard")
    .option('--after-canary', "sharded CI: deploy this shard's part of the waves after the first, once the ledger shows the canary passed (exit 12 if not)")
    .option('--resume', 'continue the interrupted or stopped rollout with the sites not yet done')
    .option('--junit <file>', 'write smoke results as JUnit XML (for GitLab/GitHub/Jenkins test reports)')
    .option('-y, --yes', 'confirm deploys to data centers that ask for confirmation (needed without a terminal)')
    .action(action(() => import('./commands/deploy.js')));

  selection(program.command('plan'))
    .description('dry run: what deploy would change (exit 10 when changes are pending)')
    .action(action(() => import('./commands/plan.js')));

  selection(program.command('verify'))
    .description('compare the files (VM) or objects (Kubernetes) on each target with what its live release applied (exit 11 when something differs)')
    .addOption(new Option('-e, --env <environment>', 'only this environment').choices(['test', 'prod']))
    .action(action(() => import('./commands/verify.js')));

  selection(program.command('status'))
    .description('recorded version, live version and drift per site and procedure')
    .option('--exit-code', 'exit 11 when a target drifted, 10 when a deploy would change one (as `git diff --exit-code`), for CI gates')
    .action(action(() => import('./commands/status.js')));

  addReportCommand(program, action);

  program
    .command('history')
    .description('the ledger: every release and smoke result, newest last')
    .option('-s, --site <site>', 'only this site')
    .option('-p, --procedure <name>', 'only this procedure')
    .addOption(environment)
    .option('-n, --limit <n>', 'at most this many records', parsePositiveInt)
    .action(action(() => import('./commands/history.js')));

  addRollbackCommands(program, action);

  selection(program.command('test'))
    .description('run the smoke checks against what is live now, and record the results')
    .addOption(new Option('-e, --env <environment>', 'only this environment').choices(['test', 'prod']))
    .action(action(() => import('./commands/test.js')));

  addProjectCommands(program, action);

  program
    .command('validate')
    .description('check the inventory and every template, render every bundle; deploys nothing (for CI lint)')
    .action(action(() => import('./commands/validate.js')));

  selection(program.command('render'))
    .description('write rendered bundles to a folder for review (secrets redacted)')
    .requiredOption('-o, --out <dir>', 'output folder')
    .addOption(new Option('-e, --env <environment>', 'only this environment').choices(['test', 'prod']))
    .action(action(() => import('./commands/render.js')));

  const ledger = program.command('ledger').description('work with the ledger itself');
  ledger
    .command('merge')
    .description("merge ledgers (e.g. from sharded CI jobs) into this inventory's ledger; records are never lost or duplicated")
    .argument('<files...>', 'ledger.jsonl files to merge in')
    .action(action(() => import('./commands/ledger-merge.js')));

  program
    .command('cloud-init')
    .description('write a NoCloud seed for a new VM of a site: deploy user, pinned host keys, base packages')
    .argument('<site>', 'site name')
    .addOption(new Option('-e, --env <environment>', 'environment').choices(['test', 'prod']).makeOptionMandatory())
    .option('-o, --out <dir>', 'seed folder (default: seeds/<site>-<env>)')
    .option('--iso [file]', 'also build a cidata ISO (default: <out>.iso)')
    .option('--public-key <files...>', "operator public keys for the deploy user (default: the data center's identityFile + .pub)")
    .option('--hostname <name>', 'VM hostname (default: <site>-<env>)')
    .option('--package <names...>', 'extra Debian packages for first boot')
    .option('--with-procedures', "install the site's procedures on first boot")
    .option('--include-secrets', "with --with-procedures: put release files holding secrets into the seed (clear text in user-data and the ISO)")
    .option('--replace', 'replace a different host key already pinned for this host (the VM is rebuilt)')
    .action(action(() => import('./commands/cloud-init.js')));

  program
    .command('clone-procedure')
    .description("adopt another site's setup of a procedure (never its site-specific values or secrets); shows the diff, --write applies it")
    .argument('[procedure]', 'procedure to clone (omit with --all)')
    .requiredOption('--from <site>', 'the site whose setup is copied')
    .requiredOption('--to <site>', 'the site that gets it')
    .option('--all', 'every procedure of the source site')
    .option('--write', 'write the change into the inventory')
    .option('--force', 'replace a setup the target site already has')
    .option('--deploy', 'write, then deploy the target site through the test gate (implies --write)')
    .option('-y, --yes', 'with --deploy: confirm deploys to data centers that ask for confirmation (needed without a terminal)')
    .action(action(() => import('./commands/clone-procedure.js')));

  return program;
}

type Action = (load: () => Promise<CommandModule>) => (this: Command, ...args: unknown[]) => Promise<void>;

/** `init`, which starts a project folder, and `completion`, which sets up the shell for it. */
function addProjectCommands(program: Command, action: Action): void {
  program
    .command('init')
    .description('start a project folder: a sites.yaml with a local data center, an example procedure, generated secrets (0600), .gitignore, .gitlab-ci.yml')
    .argument('[dir]', 'the folder (default: the current one; created when missing)')
    .option('--force', 'overwrite files ozg init would write that already exist (secret files are kept)')
    .action(action(() => import('./commands/init.js')));

  program
    .command('completion')
    .description('print the shell completion script (commands, flags, site and procedure names): source <(ozg completion bash)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .action(action(() => import('./commands/completion.js')));
}

/** `report`: the fleet report (issue 16), a read-only command taking the selection flags. */
function addReportCommand(program: Command, action: Action): void {
  selection(program.command('report'))
    .description('the fleet report: state, versions, smoke failures and the last rollout per site, as one self-contained HTML page (--html) or JSON (--json); exit 0 however red the fleet')
    .option('--html', 'the HTML page: to -o FILE, or to stdout')
    .option('-o, --output <file>', 'with --html: write the page here (atomically; folders created), `-` for stdout')
    .option('--offline', 'ledger and inventory only: contact no target (no unreachable, no drift)')
    .addOption(new Option('--lang <lang>', 'page language (default: from LC_ALL, LC_MESSAGES or LANG: de… is German)').choices(['de', 'en']))
    .option('--timeline <n>', 'ledger records per site in its timeline (default 20)', parsePositiveInt)
    .action(action(() => import('./commands/report.js')));
}

/** `rollback` and `unhold`, which puts an end to the hold a rollback leaves. */
function addRollbackCommands(program: Command, action: Action): void {
  program
    .command('rollback')
    .description('switch a site back to its previous release (or --to a kept one), smoke-test it, record it, and hold the bundle rolled back from')
    .argument('<site>', 'site name')
    .requiredOption('-p, --procedure <name>', 'procedure to roll back')
    .addOption(new Option('-e, --env <environment>', 'environment').choices(['test', 'prod']).makeOptionMandatory())
    .option('--to <release>', 'a release id still kept on the target (an unknown one lists those kept)')
    .option('--reason <text>', 'why: recorded with the hold on the release rolled back from')
    .action(action(() => import('./commands/rollback.js')));

  program
    .command('unhold')
    .description('release the hold a rollback put on a target, so the next deploy may bring that bundle again')
    .argument('<site>', 'site name')
    .requiredOption('-p, --procedure <name>', 'procedure held')
    .addOption(new Option('-e, --env <environment>', 'environment').choices(['test', 'prod']).makeOptionMandatory())
    .option('--reason <text>', 'why the hold is released (recorded)')
    .action(action(() => import('./commands/unhold.js')));
}

async function createCliReporter(flags: GlobalFlags, cli: CliIo, redactor: SecretRedactor): Promise<Reporter> {
  const [{ createReporter }, { guardReporter }] = await Promise.all([import('./output/create-reporter.js'), import('./output/guarded-reporter.js')]);
  const reporter = await createReporter({
    json: Boolean(flags.json),
    color: flags.color === false ? false : undefined,
    stdout: cli.stdout,
    stderr: cli.stderr,
    isTTY: Boolean(cli.stderr.isTTY),
    env: cli.env,
  });
  return guardReporter(reporter, { redactor, escapeControls: !flags.json });
}

/** A y/N question on the terminal; anything but yes is no. */
async function askYesNo(question: string, cli: CliIo): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const prompt = createInterface({ input: cli.stdin as NodeJS.ReadableStream, output: cli.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

/** The error on stderr (stdout with --json), every secret value redacted, control characters escaped for people. */
function reportError(error: unknown, cli: CliIo, json: boolean, redactor: SecretRedactor): number {
  const ozg = error instanceof OzgError ? error : asWriteFailure(error);
  const exitCode = ozg ? ozg.exitCode : ExitCode.internal;
  if (json) {
    const body: Record<string, unknown> = { type: 'error', error: ozg?.name ?? 'InternalError', exitCode, message: describeError(ozg ?? error) };
    if (ozg?.hint) body.hint = ozg.hint;
    if (error instanceof InvalidInputError) body.problems = error.problems;
    cli.stdout.write(stringifyJson(redactor.redactDeep(body)) + '\n');
    return exitCode;
  }
  const lines = [`error: ${error instanceof InvalidInputError ? invalidInputText(error) : describeError(ozg ?? error)}`];
  if (ozg?.hint) lines.push(`hint: ${ozg.hint}`);
  if (!ozg) lines.push('hint: this is a bug in ozg; please report it with the command you ran');
  cli.stderr.write(escapeControlCharacters(redactor.redact(lines.join('\n'))) + '\n');
  return exitCode;
}

/** `--json` among the arguments (before a `--`): known before commander has parsed anything, or when it cannot. */
function wantsJson(argv: string[]): boolean {
  const args = argv.slice(2);
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

/** commander's "error: unknown option '--x'" as a UsageError (exit 2), for the JSON error line. */
function asUsageError(error: CommanderError): UsageError {
  return new UsageError(error.message.replace(/^error: /, ''), { cause: error, hint: 'run `ozg --help`, or `ozg <command> --help`, for usage' });
}

/** The system's "cannot write" errors: the disk's problem, never a bug in ozg. */
const WRITE_FAILURES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EFBIG']);

/** A write failure no command turned into an OzgError yet, made into one (exit 4) so it is not reported as a bug. */
function asWriteFailure(error: unknown): RecordWriteError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (!(error instanceof Error) || !code || !WRITE_FAILURES.has(code)) return undefined;
  const file = (error as NodeJS.ErrnoException).path ?? 'a file';
  return new RecordWriteError(file, error.message, { cause: error, hint: `free space on (or repair) the disk holding ${file}, then run the command again` });
}

function invalidInputText(error: InvalidInputError): string {
  const count = error.problems.length === 1 ? '1 problem' : `${error.problems.length} problems`;
  return `invalid input (${count}):\n${error.problems.map((p) => '  ' + formatProblem(p)).join('\n')}`;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
