import { formatProblem } from '../errors.js';
import type { RolloutResult } from '../rollout/rollout.js';
import type { EnvironmentOutcome } from '../rollout/pipeline.js';

/**
 * Smoke results as JUnit XML, the report format GitLab, GitHub Actions and Jenkins show as
 * test results: one <testsuite> per site and environment, one <testcase> per smoke check.
 * A target that was skipped (gate failed before it, budget exceeded) becomes a skipped case,
 * so the report says what was not checked instead of staying silent.
 */
export function formatJunit(result: RolloutResult, options: { name: string; timestamp: Date }): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let skipped = 0;
  let totalSeconds = 0;
  for (const site of result.sites) {
    if (site.problems) {
      // invalid input fails the site as a whole: one failed case naming every problem
      const text = site.problems.map(formatProblem).join('\n');
      suites.push(suite(site.site, options.timestamp, [failedCase(site.site, 'inventory', 0, `invalid input, not deployed: ${firstLine(text)}`, text, 'invalid-input')], { tests: 1, failures: 1, skipped: 0, time: 0 }));
      tests += 1;
      failures += 1;
      continue;
    }
    if (site.items.length === 0) {
      suites.push(suite(`${site.site}`, options.timestamp, [skippedCase(site.site, 'deploy', site.reason ?? site.result)], { tests: 1, failures: 0, skipped: 1, time: 0 }));
      tests += 1;
      skipped += 1;
      continue;
    }
    const byEnvironment = new Map<string, string[]>();
    const counts = new Map<string, { tests: number; failures: number; skipped: number; time: number }>();
    for (const item of site.items) {
      for (const env of item.environments) {
        const key = `${site.site}/${env.environment}`;
        const cases = byEnvironment.get(key) ?? [];
        const count = counts.get(key) ?? { tests: 0, failures: 0, skipped: 0, time: 0 };
        const classname = `${site.site}.${env.environment}.${item.procedure}`;
        if (env.status === 'skipped' || (env.smoke.length === 0 && env.status !== 'apply-failed')) {
          cases.push(skippedCase(classname, 'smoke', describeSkipped(env)));
          count.tests += 1;
          count.skipped += 1;
        } else if (env.status === 'apply-failed') {
          cases.push(failedCase(classname, 'apply', 0, env.error ?? 'apply failed', env.error ?? ''));
          count.tests += 1;
          count.failures += 1;
        }
        for (const check of env.smoke) {
          const seconds = check.durationMs / 1000;
          count.tests += 1;
          count.time += seconds;
          if (check.passed) cases.push(`    <testcase classname="${escapeXml(classname)}" name="${escapeXml(check.name)}" time="${seconds.toFixed(3)}"/>`);
          else {
            count.failures += 1;
            cases.push(failedCase(classname, check.name, seconds, check.detail, check.output ?? ''));
          }
        }
        byEnvironment.set(key, cases);
        counts.set(key, count);
      }
    }
    for (const [key, cases] of byEnvironment) {
      const count = counts.get(key)!;
      tests += count.tests;
      failures += count.failures;
      skipped += count.skipped;
      totalSeconds += count.time;
      suites.push(suite(key, options.timestamp, cases, count));
    }
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(options.name)}" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${totalSeconds.toFixed(3)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

function suite(name: string, timestamp: Date, cases: string[], count: { tests: number; failures: number; skipped: number; time: number }): string {
  const stamp = timestamp.toISOString().replace(/\.\d+Z$/, '');
  return [
    `  <testsuite name="${escapeXml(name)}" tests="${count.tests}" failures="${count.failures}" errors="0" skipped="${count.skipped}" time="${count.time.toFixed(3)}" timestamp="${stamp}" hostname="ozg">`,
    ...cases,
    '  </testsuite>',
  ].join('\n');
}

function failedCase(classname: string, name: string, seconds: number, message: string, output: string, type = 'smoke'): string {
  return [
    `    <testcase classname="${escapeXml(classname)}" name="${escapeXml(name)}" time="${seconds.toFixed(3)}">`,
    `      <failure message="${escapeXml(firstLine(message))}" type="${type}">${escapeXml(output || message)}</failure>`,
    '    </testcase>',
  ].join('\n');
}

function skippedCase(classname: string, name: string, message: string): string {
  return `    <testcase classname="${escapeXml(classname)}" name="${escapeXml(name)}" time="0.000">\n      <skipped message="${escapeXml(message)}"/>\n    </testcase>`;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

/** XML 1.0 text and attribute escaping; characters XML 1.0 cannot carry at all become U+FFFD. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Why a target has no smoke results: not attempted, held by a rollback, or nothing to check. */
function describeSkipped(env: EnvironmentOutcome): string {
  if (env.hold) return env.status === 'held' ? `held by a rollback: ${env.hold.version} is not deployed again until released` : 'not attempted: an earlier stage is held by a rollback';
  return env.status === 'skipped' ? 'not attempted: an earlier stage failed' : `${env.status}: no smoke checks ran`;
}
