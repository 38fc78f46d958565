import { InternalError } from './errors.js';

/**
 * Quote a value as one POSIX shell word: the one quoting rule of ozg (scripts the VM driver
 * sends, the `shell` template filter, command lines shown to copy). Inside single quotes the
 * shell interprets nothing, so the only character to handle is the single quote itself:
 * close, emit an escaped quote, reopen.
 */
export function quoteShell(value: string): string {
  // A NUL byte cannot be part of a shell word (or a path); silently truncating would be worse.
  if (value.includes('\0')) throw new InternalError('cannot quote a value containing a NUL byte for the shell');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
