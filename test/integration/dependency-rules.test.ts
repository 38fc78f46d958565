import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { copyToTemp, removeTemp, repoRoot } from '../helpers/run-ozg.js';

/**
 * The layer rules `npm run lint:deps` enforces (.dependency-cruiser.cjs), run by the real
 * dependency-cruiser on small source trees laid out like src/: a wrong arrow fails, a right one passes.
 */
const depcruise = path.join(repoRoot, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const config = path.join(repoRoot, '.dependency-cruiser.cjs');

async function cruise(files: Record<string, string>): Promise<{ status: number | null; output: string }> {
  const dir = await copyToTemp([]);
  try {
    await writeFile(path.join(dir, 'tsconfig.build.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src/**/*.ts'] }));
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), text);
    }
    const run = spawnSync(process.execPath, [depcruise, 'src', '--config', config, '--output-type', 'err'], { cwd: dir, encoding: 'utf8' });
    return { status: run.status, output: run.stdout + run.stderr };
  } finally {
    await removeTemp(dir);
  }
}

const events = { 'src/events.ts': 'export interface Reporter { emit(event: string): void }\n' };
const output = { 'src/output/format.ts': "export const format = (value: unknown): string => String(value);\n" };
const context = { 'src/commands/context.ts': "export interface CommandContext { cwd: string }\n" };

describe('dependency rules (npm run lint:deps)', () => {
  it('lets commands import output, the domain and events, and the domain import events', async () => {
    const run = await cruise({
      ...events,
      ...output,
      ...context,
      'src/rollout/deploy.ts': "import type { Reporter } from '../events.js';\nexport const deploy = (reporter: Reporter) => reporter.emit('run-started');\n",
      'src/commands/deploy.ts': "import { deploy } from '../rollout/deploy.js';\nimport { format } from '../output/format.js';\nimport type { CommandContext } from './context.js';\nexport const run = (c: CommandContext) => format([deploy, c]);\n",
      'src/cli.ts': "import { run } from './commands/deploy.js';\nexport const main = run;\n",
    });
    expect(run).toEqual({ status: 0, output: expect.stringContaining('no dependency violations found') });
  });

  it('fails a domain folder that takes even a type from output', async () => {
    const run = await cruise({ ...output, 'src/rollout/pipeline.ts': "import type { format } from '../output/format.js';\nexport type Format = typeof format;\n" });
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('error domain-not-up: src/rollout/pipeline.ts → src/output/format.ts');
  });

  it.each(['clone', 'workspace', 'cloud-init', 'inventory', 'targets'])('fails %s importing the commands layer', async (folder) => {
    const run = await cruise({ ...context, [`src/${folder}/thing.ts`]: "import type { CommandContext } from '../commands/context.js';\nexport const cwd = (c: CommandContext) => c.cwd;\n" });
    expect(run.status).not.toBe(0);
    expect(run.output).toContain(`error domain-not-up: src/${folder}/thing.ts → src/commands/context.ts`);
  });

  it('fails the neutral events module importing output', async () => {
    const run = await cruise({ ...output, 'src/events.ts': "import { format } from './output/format.js';\nexport const describe = format;\n" });
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('error domain-not-up: src/events.ts → src/output/format.ts');
  });

  it('fails any module importing the CLI entry point', async () => {
    const run = await cruise({ 'src/cli.ts': 'export const main = 1;\n', 'src/commands/plan.ts': "import { main } from '../cli.js';\nexport const plan = main;\n" });
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('error nothing-imports-cli: src/commands/plan.ts → src/cli.ts');
  });

  it('fails a cycle, also one made of type-only imports', async () => {
    const run = await cruise({
      'src/rollout/a.ts': "import type { B } from '../workspace/b.js';\nexport interface A { b?: B }\n",
      'src/workspace/b.ts': "import type { A } from '../rollout/a.js';\nexport interface B { a?: A }\n",
    });
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('error no-cycles:');
  });
});
