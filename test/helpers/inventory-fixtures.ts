import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { copyToTemp, repoRoot } from './run-ozg.js';

export const fixturesDir = path.join(repoRoot, 'test/fixtures');

/**
 * The catalogue most inventory fixtures load: a fixture folder without a templates/ of its
 * own gets this one copied in as its templates/, so a case that breaks only sites.yaml is
 * one sites.yaml and one expect.json.
 */
export const sharedTemplatesDir = path.join(fixturesDir, 'shared-templates');

export type FixtureKind = 'valid' | 'invalid';

/** Every case folder of a kind, sorted: adding a case is adding a folder. */
export function listFixtureCases(kind: FixtureKind): string[] {
  return readdirSync(path.join(fixturesDir, kind), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

export function readFixtureExpectation<T>(kind: FixtureKind, name: string): T {
  return JSON.parse(readFileSync(path.join(fixturesDir, kind, name, 'expect.json'), 'utf8')) as T;
}

/**
 * A throw-away copy of one case, with the shared catalogue as its templates/ unless the case
 * brings its own; positions in expect.json stay relative to this folder. The caller removes it
 * (removeTemp).
 */
export function copyFixtureToTemp(kind: FixtureKind, name: string): Promise<string> {
  const dir = path.join(fixturesDir, kind, name);
  const ownTemplates = existsSync(path.join(dir, 'templates'));
  return copyToTemp([{ from: dir }, ...(ownTemplates ? [] : [{ from: sharedTemplatesDir, to: 'templates' }])]);
}
