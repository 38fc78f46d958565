import { readFileSync } from 'node:fs';
// @ts-expect-error: a plain ESM build script without type declarations
import { SCHEMA_NAMES, generateValidator, generatedFile } from '../../scripts/generate-validators.mjs';

/** The precompiled validators in src/input/generated/ are what schemas/ says today (issue 14). */
describe('generated validators', () => {
  it.each(SCHEMA_NAMES as string[])('src/input/generated/%s-validator.ts matches its schema in schemas/', (name) => {
    const committed = readFileSync(generatedFile(name), 'utf8');
    const fresh = generateValidator(name) as string;
    if (committed !== fresh) throw new Error(`src/input/generated/${name}-validator.ts is stale: run \`npm run build\` (or node scripts/generate-validators.mjs) and commit it`);
    expect(committed).toBe(fresh);
  });
});
