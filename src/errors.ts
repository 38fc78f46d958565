/**
 * One error hierarchy for the whole tool. Every class carries the process exit code the
 * CLI uses for it; the README lists them and test/unit/errors.test.ts pins them.
 */

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  invalidInput: 3,
  deployFailed: 4,
  testGateFailed: 5,
  unreachable: 6,
  lockHeld: 7,
  toolMissing: 8,
  changesPending: 10,
  /** `status --exit-code`, `verify`: a target differs from what ozg recorded or applied (or could not be verified) */
  drift: 11,
  canaryNotPassed: 12,
  interrupted: 130,
} as const;

export interface OzgErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class OzgError extends Error {
  readonly exitCode: number = ExitCode.internal;
  readonly hint?: string;

  constructor(message: string, options: OzgErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** One line for anything thrown: an OzgError's own message, otherwise the error's name and message. */
export function describeError(error: unknown): string {
  if (error instanceof OzgError) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** A bug or an unexpected failure: the message should be reported upstream. */
export class InternalError extends OzgError {
  override readonly exitCode: number = ExitCode.internal;
}

/** Wrong command-line use: unknown flag, missing argument, bad combination. */
export class UsageError extends OzgError {
  override readonly exitCode: number = ExitCode.usage;
}

/** One problem in an input file, with its source position and JSON path. */
export interface Problem {
  file: string;
  line: number;
  col: number;
  /** JSON path into the document, e.g. `sites.kiel.procedures.antrag.version`. */
  path: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}  ${p.path || '(document)'}  ${p.message}`;
}

/** Invalid inventory or template: carries every problem found, not just the first. */
export class InvalidInputError extends OzgError {
  override readonly exitCode: number = ExitCode.invalidInput;
  readonly problems: Problem[];

  constructor(problems: Problem[], options: OzgErrorOptions = {}) {
    const head = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(`invalid input (${head}):\n${problems.map((p) => '  ' + formatProblem(p)).join('\n')}`, {
      hint: options.hint ?? 'fix the listed fields, then run `ozg validate`',
      cause: options.cause,
    });
    this.problems = problems;
  }
}

/**
 * A secret reference that cannot be resolved (variable unset, file missing or empty). The
 * message names the reference — variable name or file path — and never a value.
 */
export class SecretUnavailableError extends OzgError {
  override readonly exitCode: number = ExitCode.invalidInput;
  /** `environment variable KIEL_SMTP` or `secret file /abs/path` */
  readonly reference: string;

  constructor(reference: string, reason: string, options: OzgErrorOptions = {}) {
    super(`${reference} ${reason}`, { hint: options.hint ?? 'set the variable or create the file, then run `ozg validate`', cause: options.cause });
    this.reference = reference;
  }
}

/** A template that cannot be rendered: undefined variable, syntax error, bad filter. */
export class RenderError extends OzgError {
  override readonly exitCode: number = ExitCode.invalidInput;
  readonly template: string;
  readonly line?: number;
  readonly col?: number;

  constructor(template: string, message: string, pos: { line?: number; col?: number } = {}, options: OzgErrorOptions = {}) {
    const where = pos.line ? `${template}:${pos.line}:${pos.col ?? 1}` : template;
    super(`${where}  ${message}`, options);
    this.template = template;
    this.detail = message;
    this.line = pos.line;
    this.col = pos.col;
  }

  /** the message without its location */
  readonly detail: string;

  /** Independent problems found in the same render (other templates, smoke checks), after this one. */
  more: RenderError[] = [];

  /** One error standing for all of `errors` (at least one), so a single run reports every template problem. */
  static combine(errors: RenderError[]): RenderError {
    const [first, ...rest] = errors;
    if (rest.length === 0) return first!;
    const combined = new RenderError(first!.template, `${first!.detail}\n${rest.map((e) => '  ' + e.message).join('\n')}`, { line: first!.line, col: first!.col }, first!.hint ? { hint: first!.hint } : {});
    combined.more = rest;
    return combined;
  }

  /** This error and the ones found with it, each on its own. */
  all(): RenderError[] {
    if (this.more.length === 0) return [this];
    const head = new RenderError(this.template, this.detail.split('\n')[0]!, { line: this.line, col: this.col }, this.hint ? { hint: this.hint } : {});
    return [head, ...this.more];
  }
}

/** Where a remote or local command ran: a VM host, a local directory or a namespace. */
export interface CommandLocation {
  site?: string;
  environment?: string;
  /** host, directory or namespace */
  where: string;
  step: string;
}

/** A command on a target failed. Never wraps a raw library error without this context. */
export class RemoteCommandError extends OzgError {
  override readonly exitCode: number = ExitCode.deployFailed;
  readonly context: CommandLocation;
  readonly command: string;
  readonly commandExitCode: number | null;
  readonly durationMs: number;
  readonly stderrTail: string;

  constructor(
    context: CommandLocation,
    command: string,
    result: { exitCode: number | null; durationMs: number; stderr: string },
    options: OzgErrorOptions = {},
  ) {
    const tail = lastLines(result.stderr, 10);
    const who = [context.site, context.environment].filter(Boolean).join('/');
    super(
      `${who ? who + ': ' : ''}${context.step} failed on ${context.where} ` +
        `(exit ${result.exitCode ?? 'signal'}, ${result.durationMs} ms): ${command}` +
        (tail ? `\n${indent(tail)}` : ''),
      options,
    );
    this.context = context;
    this.command = command;
    this.commandExitCode = result.exitCode;
    this.durationMs = result.durationMs;
    this.stderrTail = tail;
  }
}

/** A target could not be reached at all (connection refused, DNS, host key refused, TLS). */
export class UnreachableError extends OzgError {
  override readonly exitCode: number = ExitCode.unreachable;
  readonly where: string;
  constructor(where: string, message: string, options: OzgErrorOptions = {}) {
    super(`${where}: ${message}`, options);
    this.where = where;
  }
}

/**
 * An artefact's URL could not be fetched on this machine (HTTP error, TLS, timeout, refused
 * connection): nothing was deployed. The URL is named without its userinfo.
 */
export class ArtifactFetchError extends OzgError {
  override readonly exitCode: number = ExitCode.unreachable;
  readonly url: string;
  readonly reason: string;
  /** `artifact app.jar (shop/1.2.0/procedure.yaml:8)`: which entry, when known */
  readonly artifact?: string;
  constructor(url: string, reason: string, options: OzgErrorOptions & { artifact?: string } = {}) {
    super(`${options.artifact ? `${options.artifact}: ` : ''}${url}: ${reason}`, options);
    this.url = url;
    this.reason = reason;
    this.artifact = options.artifact;
  }
}

/** The Kubernetes API refused or failed a request. */
export class ClusterError extends OzgError {
  override readonly exitCode: number = ExitCode.deployFailed;
  readonly namespace: string;
  readonly status?: number;
  constructor(namespace: string, message: string, status?: number, options: OzgErrorOptions = {}) {
    super(`namespace ${namespace}: ${message}`, options);
    this.namespace = namespace;
    this.status = status;
  }
}

/**
 * Another run (or a person) changed the target's release record while this run worked on it
 * (409). The target then belongs to that other change: the pipeline must not put a release
 * back over it. `applied` says whether this run had applied anything before it noticed.
 */
export class ConcurrentChangeError extends ClusterError {
  readonly applied: boolean;
  constructor(namespace: string, message: string, options: OzgErrorOptions & { applied: boolean }) {
    super(namespace, message, 409, options);
    this.applied = options.applied;
  }
}

/**
 * A file ozg must keep could not be written (disk full, I/O error): the ledger, the rollout
 * state, the lock, a report. `lines` are the ledger lines that were not written, so they can
 * be kept elsewhere and merged in later (`ozg ledger merge`).
 */
export class RecordWriteError extends OzgError {
  override readonly exitCode: number = ExitCode.deployFailed;
  readonly file: string;
  readonly reason: string;
  readonly lines: string[];

  constructor(file: string, reason: string, options: OzgErrorOptions & { lines?: string[]; what?: string } = {}) {
    const lines = options.lines ?? [];
    super(
      `could not write ${options.what ?? file}: ${reason}` + lines.map((line) => `\n  not recorded: ${line.replace(/\n$/, '')}`).join(''),
      {
        hint:
          options.hint ??
          `free space on (or repair) the disk holding ${file}; save the lines marked "not recorded" to a file and add them with \`ozg ledger merge <file>\``,
        cause: options.cause,
      },
    );
    this.file = file;
    this.reason = reason;
    this.lines = lines;
  }
}

/** `ENOSPC: no space left on device, write`: the system's words, which say what to fix. */
export function describeWriteFailure(error: unknown): string {
  if (error instanceof OzgError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/** Another ozg run holds the ledger lock. */
export class LockHeldError extends OzgError {
  override readonly exitCode: number = ExitCode.lockHeld;
}

/**
 * A program ozg runs on this machine (ssh-keygen, an ISO tool) is not installed, or is not
 * the program ozg expects: a problem of this machine, not of the input. The hint names the
 * install step.
 */
export class ToolMissingError extends OzgError {
  override readonly exitCode: number = ExitCode.toolMissing;
}

/**
 * An inventory setting a target cannot be reached with (no namespace, no host, a root that is
 * not an absolute clean path), found by a driver where no source position is at hand. The
 * inventory checks report these with file:line first; this catches whatever reaches a driver
 * without them. `field` is the JSON path into sites.yaml.
 */
export class InvalidTargetError extends OzgError {
  override readonly exitCode: number = ExitCode.invalidInput;
  readonly field: string;
  constructor(field: string, message: string, options: OzgErrorOptions = {}) {
    super(`${field}: ${message}`, options);
    this.field = field;
  }
}

/**
 * A sharded deploy (`--after-canary`) found no proof in the ledger that the canary wave
 * reached the desired bundles: no shard may start before the one canary has passed.
 */
export class CanaryNotPassedError extends OzgError {
  override readonly exitCode: number = ExitCode.canaryNotPassed;
}

/** The run was interrupted (SIGINT/SIGTERM). */
export class InterruptedError extends OzgError {
  override readonly exitCode: number = ExitCode.interrupted;
}

export function lastLines(text: string, n: number): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-n).join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => '    ' + l)
    .join('\n');
}
