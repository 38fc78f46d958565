import { formatInitResult } from '../../../src/output/format-init.js';

describe('ozg init, as printed', () => {
  const result = (directory: string, kept: string[] = []) => ({ directory, written: ['sites.yaml'], kept });

  it('says what to run next, with a folder name that needs quoting quoted', () => {
    expect(formatInitResult(result('/work'), '/work')).toMatch(/\nnext: ozg deploy$/);
    expect(formatInitResult(result('/work/land-sh'), '/work')).toMatch(/\nnext: cd land-sh && ozg deploy$/);
    expect(formatInitResult(result("/work/land sh's"), '/work')).toMatch(/\nnext: cd 'land sh'\\''s' && ozg deploy$/);
  });

  it('names the secret files --force kept', () => {
    expect(formatInitResult(result('/work', ['secrets/musterstadt-smtp.txt']), '/work')).toContain('kept the existing secrets/musterstadt-smtp.txt');
  });
});
