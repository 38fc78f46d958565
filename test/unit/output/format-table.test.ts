import { formatTable } from '../../../src/output/format-table.js';

describe('formatTable', () => {
  it('aligns columns under the headers without trailing spaces', () => {
    expect(formatTable(['SITE', 'ENV', 'STATE'], [['kiel', 'test', 'up to date'], ['amt-hohner-harde', 'prod', 'DRIFT']])).toBe(
      ['SITE              ENV   STATE', 'kiel              test  up to date', 'amt-hohner-harde  prod  DRIFT'].join('\n'),
    );
  });

  it('measures coloured cells by what is visible', () => {
    const red = (s: string) => `\x1b[31m${s}\x1b[39m`;
    const lines = formatTable(['A', 'B'], [[red('xx'), '1'], ['yyyy', '2']]).split('\n');
    expect(lines[1]).toBe(`${red('xx')}    1`);
    expect(lines[2]).toBe('yyyy  2');
  });

  it('keeps a multi-line cell on its row', () => {
    expect(formatTable(['SITE', 'ERROR'], [['kiel', 'refused\n  port 22']])).toBe('SITE  ERROR\nkiel  refused port 22');
  });

  it('prints just the headers when there are no rows', () => {
    expect(formatTable(['SITE', 'ENV'], [])).toBe('SITE  ENV');
  });
});
