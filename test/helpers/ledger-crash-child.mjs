// Crash-test child: takes the ledger lock, then appends records in a tight loop until the
// test kills it with SIGKILL. Usage: node ledger-crash-child.mjs <transpiled src> <ledger dir> <round>
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [srcDir, ledgerDir, round] = process.argv.slice(2);
const { openLedger } = await import(pathToFileURL(join(srcDir, 'ledger', 'ledger.js')).href);
const { acquireLock } = await import(pathToFileURL(join(srcDir, 'ledger', 'lock.js')).href);

const lock = await acquireLock(ledgerDir, { command: `crash-child round ${round}` });
process.stdout.write(JSON.stringify({ locked: true, pid: process.pid, recovered: lock.recovered ?? null }) + '\n');

const ledger = openLedger(ledgerDir);
// Big batches make one write span many pages, so a kill can land inside it and tear the line.
const payload = 'x'.repeat(32 * 1024);
let seq = 0;
for (let batch = 0; ; batch++) {
  const big = batch % 2 === 1;
  const size = big ? 64 : 1 + (batch % 3);
  const records = [];
  for (let i = 0; i < size; i++, seq++) {
    records.push({
      id: `${round}:${seq}`,
      actor: 'crash@test',
      run: `round-${round}`,
      site: `site-${seq % 7}`,
      environment: seq % 2 ? 'prod' : 'test',
      procedure: 'crash-proc',
      version: `1.0.${seq}`,
      hash: 'c'.repeat(64),
      outcome: 'applied',
      smoke: [],
      durationMs: seq,
      ...(big ? { error: payload } : {}),
    });
  }
  await ledger.append(records);
}
