import type { Problem } from '../errors.js';

/**
 * Problems without repeats, in reading order: `firstFile`'s first (the inventory), then
 * every other file by name, each by line and column. A problem found once per site (a bad
 * central default) is listed once.
 */
export function sortProblems(problems: readonly Problem[], firstFile?: string): Problem[] {
  const seen = new Set<string>();
  const unique = problems.filter((problem) => {
    const key = `${problem.file}:${problem.line}:${problem.col}|${problem.path}|${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const rank = (problem: Problem): number => (problem.file === firstFile ? 0 : 1);
  return unique.sort(
    (a, b) => rank(a) - rank(b) || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line || a.col - b.col,
  );
}
