/**
 * The formats our schemas use besides JSON Schema's own, in the shape ajv takes. One module for
 * both uses: createAjv adds them at run time, and the validators precompiled from schemas/
 * (src/input/generated/, scripts/generate-validators.mjs) import them by this module's name.
 */
import semver from 'semver';

export const schemaFormats = {
  semver: { type: 'string', validate: (value: string) => semver.valid(value) !== null },
  'semver-range': { type: 'string', validate: (value: string) => semver.valid(value) !== null || semver.validRange(value) !== null },
} as const;
