import { applyPatch } from 'diff';
import { formatUnifiedDiff } from '../../../src/clone/unified-diff.js';

const lines = (n: number, prefix = 'line') => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);

describe('formatUnifiedDiff', () => {
  it('is empty when nothing changed', () => {
    expect(formatUnifiedDiff('sites.yaml', 'a\n', 'a\n')).toBe('');
  });

  it('writes git-style headers and three lines of context, and applies back', () => {
    const before = lines(10).join('\n') + '\n';
    const after = before.replace('line 5\n', 'line 5\nnew\n');
    const diff = formatUnifiedDiff('sites.yaml', before, after);
    expect(diff).toBe(['--- a/sites.yaml', '+++ b/sites.yaml', '@@ -3,6 +3,7 @@', ' line 3', ' line 4', ' line 5', '+new', ' line 6', ' line 7', ' line 8', ''].join('\n'));
    expect(applyPatch(before, diff)).toBe(after);
  });

  it("shows context only within the given lines (the edited site), so a neighbour's values stay out", () => {
    const before = [...lines(5, 'kiel'), ...lines(2, 'husum'), ...lines(5, 'sylt')].join('\n') + '\n';
    const after = before.replace('husum 2\n', 'husum 2\n+procedures\n');
    const diff = formatUnifiedDiff('sites.yaml', before, after, { contextLines: { first: 6, last: 7 } });
    expect(diff).toBe(['--- a/sites.yaml', '+++ b/sites.yaml', '@@ -6,2 +6,3 @@', ' husum 1', ' husum 2', '++procedures', ''].join('\n'));
    expect(diff).not.toMatch(/kiel|sylt/);
    expect(applyPatch(before, diff)).toBe(after);
  });
});
