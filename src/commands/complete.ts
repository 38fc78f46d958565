import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command, Option } from 'commander';
import { parse } from 'yaml';

/** The names a completion offers from the inventory: read cheaply, never validated. */
export interface InventoryNames {
  sites: string[];
  procedures: string[];
}

/** Options whose value is a site or a procedure name, by long flag. */
const SITE_VALUED = new Set(['--site', '--from', '--to']);
const PROCEDURE_VALUED = new Set(['--procedure']);

/**
 * The candidates for the last of `words` (the words after `ozg`, the last one being completed,
 * possibly empty): subcommands, the flags of the command reached (commander's own definitions,
 * global ones included), option values with fixed choices, and site and procedure names.
 */
export function completeWords(program: Command, words: string[], names: InventoryNames): string[] {
  const current = words.at(-1) ?? '';
  let command = program;
  let positional = 0;
  let expecting: Option | undefined;
  for (const word of words.slice(0, -1)) {
    if (expecting) {
      expecting = undefined;
      continue;
    }
    if (word.startsWith('-') && word !== '-') {
      const option = findOption(program, command, word.split('=')[0]!);
      if (option && (option.required || option.optional) && !word.includes('=')) expecting = option;
      continue;
    }
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub && positional === 0) command = sub;
    else positional += 1;
  }
  const matching = (candidates: string[]) => [...new Set(candidates)].filter((c) => c.startsWith(current)).sort();

  if (expecting) return matching(optionValues(expecting, names));
  if (current.startsWith('-')) return matching(flagsOf(program, command));
  const subcommands = command.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden).map((c) => c.name());
  if (subcommands.length > 0 && positional === 0 && command.registeredArguments.length === 0) return matching(subcommands);
  return matching(argumentValues(command, positional, names));
}

function findOption(program: Command, command: Command, flag: string): Option | undefined {
  for (let at: Command | null = command; at; at = at.parent) {
    const option = at.options.find((o) => o.short === flag || o.long === flag);
    if (option) return option;
  }
  return program.options.find((o) => o.short === flag || o.long === flag);
}

function flagsOf(program: Command, command: Command): string[] {
  const options = [...command.options];
  // the program's options apply after any command (`ozg deploy --json`), its --version only on its own
  if (command !== program) options.push(...program.options.filter((o) => o.long !== '--version'));
  const flags = options.filter((o) => !o.hidden).flatMap((o) => [o.long, o.short].filter((f): f is string => Boolean(f)));
  return [...flags, '--help', '-h'];
}

function optionValues(option: Option, names: InventoryNames): string[] {
  if (option.argChoices) return option.argChoices;
  if (option.long && SITE_VALUED.has(option.long)) return names.sites;
  if (option.long && PROCEDURE_VALUED.has(option.long)) return names.procedures;
  return []; // a file or free text: the shell completes file names
}

function argumentValues(command: Command, positional: number, names: InventoryNames): string[] {
  const args = command.registeredArguments;
  const argument = args[positional] ?? (args.at(-1)?.variadic ? args.at(-1) : undefined);
  if (!argument) return [];
  if (argument.argChoices) return argument.argChoices;
  const name = argument.name();
  if (name === 'site' || name === 'sites') return names.sites;
  if (name === 'procedure') return names.procedures;
  return [];
}

/** `-i`/`--inventory` among the words, else $OZG_INVENTORY, else sites.yaml (as every command reads it). */
export function inventoryPathOf(words: string[], env: Record<string, string | undefined>): string {
  for (let i = 0; i < words.length - 1; i++) {
    const word = words[i]!;
    if ((word === '-i' || word === '--inventory') && i + 1 < words.length - 1) return words[i + 1]!;
    if (word.startsWith('--inventory=')) return word.slice('--inventory='.length);
  }
  return env.OZG_INVENTORY ?? 'sites.yaml';
}

/** Site and procedure names of the inventory: its YAML only, nothing loaded or checked; none when it cannot be read. */
export async function readInventoryNames(file: string, cwd: string): Promise<InventoryNames> {
  try {
    const doc = parse(await readFile(path.resolve(cwd, file), 'utf8')) as Record<string, any> | null;
    const sites = isMap(doc?.sites) ? doc.sites : {};
    const procedures = new Set<string>(isMap(doc?.defaults?.procedures) ? Object.keys(doc.defaults.procedures) : []);
    for (const site of Object.values(sites)) if (isMap((site as any)?.procedures)) for (const name of Object.keys((site as any).procedures)) procedures.add(name);
    return { sites: Object.keys(sites), procedures: [...procedures] };
  } catch {
    return { sites: [], procedures: [] };
  }
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The scripts `ozg completion <shell>` prints: they ask `ozg __complete <words…>` for the candidates. */
export function completionScript(shell: 'bash' | 'zsh'): string {
  return shell === 'bash' ? BASH : ZSH;
}

const BASH = `# ozg completion for bash. Load it with
#   source <(ozg completion bash)
# or for every shell: ozg completion bash > /etc/bash_completion.d/ozg
_ozg_complete() {
  local candidates line
  candidates=$(ozg __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  COMPREPLY=()
  # one candidate a line, taken as it is (no word splitting or globbing of names)
  while IFS= read -r line; do
    [[ -n $line ]] && COMPREPLY+=("$line")
  done <<< "$candidates"
}
complete -o default -F _ozg_complete ozg
`;

const ZSH = `#compdef ozg
# ozg completion for zsh. Load it with
#   source <(ozg completion zsh)
# or save it as _ozg in a folder on $fpath.
_ozg() {
  local -a candidates
  candidates=("\${(@f)$(ozg __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=("\${(@)candidates:#}")
  if (( \${#candidates} )); then
    compadd -- "\${candidates[@]}"
  else
    _files
  fi
}
if [ "$funcstack[1]" = "_ozg" ]; then
  _ozg "$@"
else
  compdef _ozg ozg
fi
`;
