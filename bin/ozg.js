#!/usr/bin/env node
import { readFileSync } from 'node:fs';

// `ozg --version` alone answers before the program is loaded: it needs nothing of it (issue 14)
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  const { main } = await import('../dist/cli.js');
  main(process.argv).then((code) => { process.exitCode = code; });
}
