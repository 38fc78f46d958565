import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const repoRoot = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');

/**
 * Transpiles the given src/ files (ESM, no type check) into `outDir`, keeping their layout, so
 * a child process can import the code under test as it is now rather than a stale dist/.
 * Returns the directory standing for src/.
 */
export async function transpileSources(files: string[], outDir: string): Promise<string> {
  const srcDir = join(repoRoot, 'src');
  const outSrc = join(outDir, 'src');
  for (const file of files) {
    const source = await readFile(join(srcDir, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    const target = join(outSrc, relative('.', file).replace(/\.ts$/, '.js'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
  await writeFile(join(outDir, 'package.json'), '{"type":"module"}\n');
  return outSrc;
}
