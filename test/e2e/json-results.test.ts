import path from 'node:path';
import { appendFile, cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { copyExampleToTemp, removeTemp, resultOf, runOzg, type OzgRun } from '../helpers/run-ozg.js';
import { formatLedgerLine } from '../../src/ledger/ledger-line.js';
import { makeLedgerRecord } from '../helpers/ledger-records.js';
import { writeUnreachableVmInventory } from '../helpers/unreachable-vm-inventory.js';
import { compareWithShape, listOptionalKeys, readDocumentedShapes, type Shape } from '../helpers/json-shapes.js';

/**
 * README "JSON results" is the contract pipelines read `--json` results by: every command's
 * real result on the example inventory must have exactly the keys and types documented there.
 */
const documented = readDocumentedShapes();

interface ResultsOf {
  command: string;
  runs: { run: OzgRun; code: number }[];
  /** optional keys of the command's shape that these runs cannot produce, with why */
  notProducedHere?: Record<string, string>;
}

/** Each run exits as expected and its result has the documented shape; each optional key documented is produced by one of them. */
function expectDocumentedShape({ command, runs, notProducedHere = {} }: ResultsOf): void {
  const shape = documented.commands.get(command);
  if (shape === undefined) throw new Error(`README.md JSON results documents no \`ozg ${command} --json\``);
  const seen = new Set<string>();
  for (const { run, code } of runs) {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code, stderr: expect.any(String) });
    expect(compareWithShape(resultOf(run), shape, documented.named, 'result', seen)).toEqual([]);
  }
  const unseen = listOptionalKeys(shape, 'result').filter((key) => !seen.has(key) && !(key in notProducedHere));
  expect(unseen).toEqual([]);
}

async function copyProject(from: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-e2e-'));
  // releases are relative symbolic links (`current -> releases/…`): copied as they are
  await cp(from, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

describe('--json results match the README', () => {
  /** the example, nothing deployed; vm.yaml: a site whose host cannot be reached */
  let fresh: string;
  /** the example deployed once to test and prod */
  let deployed: string;
  let deployRun: OzgRun;
  const dirs: string[] = [];
  const copyOf = async (from: string) => {
    const dir = await copyProject(from);
    dirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    fresh = await copyExampleToTemp();
    await writeUnreachableVmInventory(fresh, ['kiel', 'husum']);
    deployed = await copyProject(fresh);
    deployRun = await runOzg(['deploy', '--json'], { cwd: deployed });
    expect({ code: deployRun.code, stderr: deployRun.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  });
  afterAll(async () => {
    for (const dir of [fresh, deployed, ...dirs]) if (dir) await removeTemp(dir);
  });

  it('documents every command once', () => {
    expect([...documented.commands.keys()].sort()).toEqual(
      ['clone-procedure', 'cloud-init', 'completion', 'deploy', 'history', 'init', 'ledger merge', 'plan', 'render', 'report', 'rollback', 'status', 'test', 'unhold', 'validate', 'verify'],
    );
  });

  it('deploy', async () => {
    const dir = await copyOf(fresh);
    // kiel fails, the budget of no failure is spent, husum is skipped and the rollout stopped
    const unreachable = await runOzg(['deploy', '-i', 'vm.yaml', '--max-failures', '0', '-c', '1', '--json'], { cwd: dir });
    expectDocumentedShape({
      command: 'deploy',
      runs: [
        { run: deployRun, code: 0 },
        { run: unreachable, code: 6 },
      ],
      notProducedHere: { 'result.sites[].problems': 'a site left out for invalid input (test/e2e/fleet-isolation.test.ts)' },
    });
  });

  it('plan', async () => {
    const dir = await copyOf(fresh);
    expectDocumentedShape({
      command: 'plan',
      runs: [
        { run: await runOzg(['plan', '--json'], { cwd: dir }), code: 10 },
        { run: await runOzg(['plan', '--json'], { cwd: await copyOf(deployed) }), code: 0 },
        { run: await runOzg(['plan', '-i', 'vm.yaml', '--json'], { cwd: dir }), code: 6 },
      ],
      notProducedHere: {
        'result.targets[].objects': 'Kubernetes targets only (test/e2e/kubernetes-deploy.test.ts)',
        'result.targets[].inputError': 'a secret not available here (test/e2e/fleet-isolation.test.ts)',
        'result.targets[].live': 'with inputError only (test/e2e/fleet-isolation.test.ts)',
        'result.targets[].hold': 'a target held by a rollback (test/e2e/rollback-hold.test.ts)',
      },
    });
  });

  it('status', async () => {
    const dir = await copyOf(deployed);
    expectDocumentedShape({
      command: 'status',
      runs: [
        { run: await runOzg(['status', '--json'], { cwd: dir }), code: 0 },
        { run: await runOzg(['status', '-i', 'vm.yaml', '--json'], { cwd: dir }), code: 6 },
      ],
      notProducedHere: { 'result.targets[].inputError': 'a secret not available here (test/e2e/fleet-isolation.test.ts)', 'result.targets[].hold': 'a target held by a rollback (test/e2e/rollback-hold.test.ts)' },
    });
  });

  it('verify', async () => {
    const dir = await copyOf(deployed);
    const clean = await runOzg(['verify', '--json'], { cwd: dir });
    // a file edited by hand in one live release
    const kiel = resultOf(clean).targets[0];
    const current = path.join(dir, '.ozg/targets', kiel.environment, kiel.site, kiel.procedure, 'current');
    const [file] = Object.keys(JSON.parse(await readFile(path.join(current, '.ozg-files'), 'utf8')) as Record<string, string>);
    await writeFile(path.join(current, file!), 'edited by hand\n');
    expectDocumentedShape({
      command: 'verify',
      runs: [
        { run: clean, code: 0 },
        { run: await runOzg(['verify', '--json'], { cwd: dir }), code: 11 },
        { run: await runOzg(['verify', '-i', 'vm.yaml', '--json'], { cwd: dir }), code: 6 },
      ],
    });
  });

  it('history', async () => {
    const dir = await copyOf(deployed);
    expectDocumentedShape({ command: 'history', runs: [{ run: await runOzg(['history', '--json'], { cwd: dir }), code: 0 }] });
  });

  it('report', async () => {
    const dir = await copyOf(deployed);
    expectDocumentedShape({
      command: 'report',
      runs: [
        { run: await runOzg(['report', '--offline', '--json'], { cwd: dir }), code: 0 },
        // live, every target unreachable: still exit 0, the report shows them
        { run: await runOzg(['report', '-i', 'vm.yaml', '--json'], { cwd: dir }), code: 0 },
      ],
    });
  });

  it('test', async () => {
    const dir = await copyOf(deployed);
    expectDocumentedShape({
      command: 'test',
      runs: [
        { run: await runOzg(['test', '--json'], { cwd: dir }), code: 0 },
        { run: await runOzg(['test', '-i', 'vm.yaml', '--json'], { cwd: dir }), code: 6 },
      ],
    });
  });

  it('rollback', async () => {
    const dir = await copyOf(deployed);
    // a second release of amt-hohner-harde, so there is one to go back to
    const inventory = path.join(dir, 'sites.yaml');
    await writeFile(inventory, (await readFile(inventory, 'utf8')).replace('title: Amt Hohner Harde', 'title: Amt Hohner Harde (neu)'));
    expect((await runOzg(['deploy', 'amt-hohner-harde', '--only-test'], { cwd: dir })).code).toBe(0);
    expectDocumentedShape({
      command: 'rollback',
      runs: [
        { run: await runOzg(['rollback', 'amt-hohner-harde', '-p', 'antrag-formular', '-e', 'test', '--json'], { cwd: dir }), code: 0 },
        { run: await runOzg(['rollback', 'luebeck', '-p', 'antrag-formular', '-e', 'test', '--json'], { cwd: dir }), code: 4 },
      ],
      notProducedHere: { 'result.smokeNotRun': "the restored release's version is no longer in the catalogue (test/e2e/rollback-hold.test.ts)" },
    });
    expectDocumentedShape({
      command: 'unhold',
      runs: [
        { run: await runOzg(['unhold', 'amt-hohner-harde', '-p', 'antrag-formular', '-e', 'test', '--json'], { cwd: dir }), code: 0 },
        { run: await runOzg(['unhold', 'amt-hohner-harde', '-p', 'antrag-formular', '-e', 'test', '--json'], { cwd: dir }), code: 0 },
      ],
    });
  });

  it('validate', async () => {
    const dir = await copyOf(fresh);
    expectDocumentedShape({ command: 'validate', runs: [{ run: await runOzg(['validate', '--json'], { cwd: dir }), code: 0 }] });
  });

  it('init', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-e2e-'));
    dirs.push(dir);
    const first = await runOzg(['init', 'project', '--json'], { cwd: dir });
    const forced = await runOzg(['init', 'project', '--force', '--json'], { cwd: dir });
    expectDocumentedShape({ command: 'init', runs: [{ run: first, code: 0 }, { run: forced, code: 0 }] });
    expect(resultOf(forced).kept).toEqual(['secrets/musterstadt-smtp.txt']);
  });

  it('completion', async () => {
    expectDocumentedShape({ command: 'completion', runs: [{ run: await runOzg(['completion', 'bash', '--json'], { cwd: fresh }), code: 0 }] });
  });

  it('render', async () => {
    const dir = await copyOf(fresh);
    expectDocumentedShape({ command: 'render', runs: [{ run: await runOzg(['render', '-o', 'review', '--json'], { cwd: dir }), code: 0 }] });
  });

  it('ledger merge', async () => {
    const dir = await copyOf(deployed);
    const shard = path.join(dir, 'shard.jsonl');
    await cp(path.join(dir, '.ozg/ledger.jsonl'), shard);
    // a damaged line, and a record of a site this inventory does not have: refused (exit 3)
    await appendFile(shard, 'not a record\n' + formatLedgerLine(makeLedgerRecord({ id: 'foreign', site: 'hamburg' })));
    expectDocumentedShape({ command: 'ledger merge', runs: [{ run: await runOzg(['ledger', 'merge', 'shard.jsonl', '--json'], { cwd: dir }), code: 3 }] });
  });

  it('clone-procedure', async () => {
    const dir = await copyOf(fresh);
    expectDocumentedShape({
      command: 'clone-procedure',
      runs: [
        { run: await runOzg(['clone-procedure', 'dms-connector', '--from', 'kiel', '--to', 'luebeck', '--json'], { cwd: dir }), code: 0 },
        // a placeholder left (archiveUrl): written, not deployed
        { run: await runOzg(['clone-procedure', 'dms-connector', '--from', 'kiel', '--to', 'luebeck', '--write', '--deploy', '--json'], { cwd: await copyOf(fresh) }), code: 3 },
        {
          run: await runOzg(['clone-procedure', 'antrag-formular', '--from', 'kiel', '--to', 'luebeck', '--force', '--write', '--deploy', '--json'], { cwd: dir }),
          code: 0,
        },
      ],
    });
  });

  it('cloud-init', async () => {
    const dir = await copyOf(fresh);
    expectDocumentedShape({
      command: 'cloud-init',
      runs: [{ run: await runOzg(['cloud-init', 'kiel', '-i', 'vm.yaml', '--env', 'test', '--iso', '--with-procedures', '--include-secrets', '--json'], { cwd: dir }), code: 0 }],
    });
  });
});

describe('the README shape check', () => {
  const shape: Shape = { name: 'string', 'port?': 'number', env: "'test' | 'prod'", smoke: ['<smoke>'] };
  const named = new Map<string, Shape>([['smoke', { passed: 'boolean' }]]);

  it('reports a key the README does not document, and one it documents that is missing', () => {
    expect(compareWithShape({ name: 'a', env: 'test', smoke: [], extra: 1 }, shape, named, 'result')).toEqual(['result.extra: not documented in the README']);
    expect(compareWithShape({ env: 'test', smoke: [] }, shape, named, 'result')).toEqual(['result.name: missing (the README documents it)']);
  });

  it('reports a value of another type, in lists and named shapes too', () => {
    expect(compareWithShape({ name: 'a', port: '22', env: 'stage', smoke: [{ passed: 'yes' }] }, shape, named, 'result')).toEqual([
      'result.port: "22" is not number',
      'result.env: "stage" is not \'test\' | \'prod\'',
      'result.smoke[0]: <smoke>.passed: "yes" is not boolean',
    ]);
  });

  it('checks an object of any keys by the type of its values', () => {
    const counts: Shape = { outcomes: '{ [outcome]: number }' };
    expect(compareWithShape({ outcomes: { applied: 2, skipped: 0 } }, counts, named, 'result')).toEqual([]);
    expect(compareWithShape({ outcomes: { applied: '2' } }, counts, named, 'result')).toEqual(['result.outcomes: {"applied":"2"} is not { [outcome]: number }']);
    expect(compareWithShape({ outcomes: [] }, counts, named, 'result')).toEqual(['result.outcomes: [] is not { [outcome]: number }']);
  });
});
