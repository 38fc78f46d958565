/** The page's languages (`ozg report --lang`). */
export const reportLanguages = ['de', 'en'] as const;
export type ReportLanguage = (typeof reportLanguages)[number];

/**
 * The language the environment asks for, as POSIX programs choose it: the first of LC_ALL,
 * LC_MESSAGES and LANG that is set decides; `de…` (de_DE.UTF-8, de_AT) is German, anything
 * else English.
 */
export function chooseReportLanguage(env: Record<string, string | undefined>): ReportLanguage {
  const locale = [env.LC_ALL, env.LC_MESSAGES, env.LANG].find((value) => value !== undefined && value !== '');
  return locale?.toLowerCase().startsWith('de') ? 'de' : 'en';
}
