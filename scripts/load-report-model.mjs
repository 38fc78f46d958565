/**
 * Loads test/helpers/report-model.ts (the report page's deterministic model generator) into a
 * plain node script: the generator has type imports only, so transpiling it alone is enough.
 * Used by bench/report.mjs and scripts/report-screenshot.mjs, so all three see the same models.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function loadReportModelGenerator() {
  const source = await readFile(path.join(root, 'test/helpers/report-model.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } });
  const dir = await mkdtemp(path.join(tmpdir(), 'ozg-report-model-'));
  try {
    const file = path.join(dir, 'report-model.mjs');
    await writeFile(file, outputText);
    return await import(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Debian's chromium, launched the way the tests launch it; fails with the install step. */
export async function launchChromium(userDataDir) {
  const { existsSync } = await import('node:fs');
  if (!existsSync('/usr/bin/chromium')) throw new Error('/usr/bin/chromium is missing: apt-get install -y chromium');
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Loads test/helpers/report-fleet.ts (the generated `ozg report` fleet) the same way. It
 * imports one value from src (the ledger line format): that import is pointed at dist/, which
 * must be built, and its own location (for the fixture and bin/ozg.js) stays the source file's.
 */
export async function loadReportFleetGenerator() {
  const { pathToFileURL } = await import('node:url');
  const sourceFile = path.join(root, 'test/helpers/report-fleet.ts');
  const source = await readFile(sourceFile, 'utf8');
  let { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } });
  const ledgerLine = pathToFileURL(path.join(root, 'dist/ledger/ledger-line.js')).href;
  if (!outputText.includes("'../../src/ledger/ledger-line.js'")) throw new Error('test/helpers/report-fleet.ts: expected its import of ../../src/ledger/ledger-line.js');
  outputText = outputText.replace("'../../src/ledger/ledger-line.js'", JSON.stringify(ledgerLine)).replaceAll('import.meta.url', JSON.stringify(pathToFileURL(sourceFile).href));
  const dir = await mkdtemp(path.join(tmpdir(), 'ozg-report-fleet-loader-'));
  try {
    const file = path.join(dir, 'report-fleet.mjs');
    await writeFile(file, outputText);
    return await import(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
