import { stripVTControlCharacters } from 'node:util';

/**
 * Aligned columns for people: a header row, then the rows, two spaces between columns.
 * Widths ignore ANSI colour codes, so a caller may colour cells without breaking alignment.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const table = [headers, ...rows].map((row) => row.map(toSingleLine));
  const columns = Math.max(...table.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, c) => Math.max(0, ...table.map((row) => measureWidth(row[c] ?? ''))));
  return table
    .map((row) =>
      row
        .map((cell, c) => (c === row.length - 1 ? cell : cell + ' '.repeat(widths[c] - measureWidth(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function toSingleLine(cell: string): string {
  // one record per line keeps the table greppable; multi-line details belong elsewhere
  return cell.replace(/\s*\n\s*/g, ' ');
}

function measureWidth(text: string): number {
  return [...stripVTControlCharacters(text)].length;
}
