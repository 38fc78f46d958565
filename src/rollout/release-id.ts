/**
 * Release ids sort by time and name the content: `20261129T053200Z-1a2b3c4d`. Test and
 * prod of one run share the time stamp, and the id's hash part when both render the same
 * content, so a prod release can be traced to the test gate it passed.
 */
export function createReleaseId(now: Date, hash: string): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${hash.slice(0, 8)}`;
}
