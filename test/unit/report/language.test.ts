import { chooseReportLanguage } from '../../../src/report/language.js';

describe("the report's default language", () => {
  it('is German when the first set of LC_ALL, LC_MESSAGES, LANG starts with de, else English', () => {
    expect(chooseReportLanguage({ LANG: 'de_DE.UTF-8' })).toBe('de');
    expect(chooseReportLanguage({ LC_MESSAGES: 'de_AT', LANG: 'en_GB.UTF-8' })).toBe('de');
    expect(chooseReportLanguage({ LC_ALL: 'C', LC_MESSAGES: 'de_DE', LANG: 'de_DE' })).toBe('en');
    expect(chooseReportLanguage({ LC_ALL: '', LANG: 'de_CH.UTF-8' })).toBe('de');
    expect(chooseReportLanguage({ LANG: 'fr_FR.UTF-8' })).toBe('en');
    expect(chooseReportLanguage({})).toBe('en');
  });
});
