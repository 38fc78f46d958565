/** The inventory change as a unified diff (`git diff` style headers, 3 lines of context). */
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from 'diff';
import type { StructuredPatchHunk } from 'diff';

export interface FormatDiffOptions {
  /** context lines shown only within these old-text lines (1-based, inclusive), e.g. the edited site */
  contextLines?: { first: number; last: number };
}

/** An empty string when nothing changed. */
export function formatUnifiedDiff(file: string, before: string, after: string, options: FormatDiffOptions = {}): string {
  if (before === after) return '';
  const patch = structuredPatch(`a/${file}`, `b/${file}`, before, after, undefined, undefined, { context: 3 });
  if (options.contextLines) patch.hunks = patch.hunks.map((hunk) => trimContext(hunk, options.contextLines!));
  return formatPatch(patch, FILE_HEADERS_ONLY);
}

/**
 * Drops context lines outside the allowed range, so a diff of one site's setup never shows
 * a neighbouring site's values. Changed lines are always kept.
 */
function trimContext(hunk: StructuredPatchHunk, allowed: { first: number; last: number }): StructuredPatchHunk {
  const lines = [...hunk.lines];
  let oldStart = hunk.oldStart;
  let newStart = hunk.newStart;
  while (lines.length > 0 && lines[0].startsWith(' ') && oldStart < allowed.first) {
    lines.shift();
    oldStart++;
    newStart++;
  }
  // the old line number of the last line, counting back from the end
  let oldLast = hunk.oldStart + hunk.oldLines - 1;
  while (lines.length > 0 && lines[lines.length - 1].startsWith(' ') && oldLast > allowed.last) {
    lines.pop();
    oldLast--;
  }
  const oldLines = lines.filter((line) => line[0] === ' ' || line[0] === '-').length;
  const newLines = lines.filter((line) => line[0] === ' ' || line[0] === '+').length;
  return { oldStart, newStart, oldLines, newLines, lines };
}
