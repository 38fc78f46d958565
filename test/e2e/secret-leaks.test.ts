/**
 * Secrets never leave through errors, hooks or smoke output. A project whose templates,
 * hooks and smoke checks try every leak path we know of is run through the CLI (validate,
 * render, deploy with --json and --junit, test, rollback, status, history, plan); then everything ozg
 * printed or wrote is searched for the secret values: none may appear, and `«secret:NAME»`
 * must appear where they would have been (so the search can fail).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openLedger } from '../../src/ledger/ledger.js';
import { makeLedgerRecord } from '../helpers/ledger-records.js';
import { localInventoryYaml } from '../helpers/mini-project.js';
import { runOzg, type OzgRun } from '../helpers/run-ozg.js';
import { startSshHosts } from '../helpers/sshd-harness.js';
import { writeVmInventory } from '../helpers/vm-inventory.js';

/** the `{ env: }` secret; `#` makes YAML read the rest as a comment when unquoted */
const ENV_SECRET = 'Xk9#Secret-env-token';
/** the `{ file: }` secret */
const FILE_SECRET = 'Fz7-file-secret-value';
/** secrets that break unquoted YAML: an alias and a block scalar header */
const ALIAS_SECRET = '*Xk9#Alias-secret';
const BLOCK_SECRET = '|Xk9#Block-secret';
/** not a secret of the inventory at all: a CI job's token in ozg's environment */
const CI_TOKEN = 'ci-job-token-0815-never-show';
const ALL_VALUES = [ENV_SECRET, FILE_SECRET, ALIAS_SECRET, BLOCK_SECRET, CI_TOKEN];
/** fragments of the values a parser or a `set -x` could quote on their own */
const FRAGMENTS = ['Xk9', 'Fz7-file', 'ci-job-token'];

const env = { S1_TOKEN: ENV_SECRET, S1_ALIAS: ALIAS_SECRET, S1_BLOCK: BLOCK_SECRET, CI_JOB_TOKEN: CI_TOKEN };

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content, { mode: file.endsWith('.sh') ? 0o755 : 0o644 });
  }
}

const procedureYaml = (name: string, version: string, extra: string) =>
  [`name: ${name}`, `version: ${version}`, 'description: tries to leak its secrets', 'values: { type: object }', extra].join('\n') + '\n';

/** a local procedure whose hooks and smoke checks print everything they can reach */
const leakyLocal = (version: string, installFails: boolean): Record<string, string> => ({
  [`templates/leaky/${version}/procedure.yaml`]: procedureYaml(
    'leaky',
    version,
    [
      'secrets: [token, key]',
      'vm:',
      '  files: vm',
      '  hooks: { install: hooks/install.sh, activate: hooks/activate.sh }',
      'smoke:',
      '  - name: prints-secrets',
      // the environment (S1_TOKEN, CI_JOB_TOKEN) must be empty; the files hold the values
      '    command: \'echo "env: ${S1_TOKEN:-no-env-secret} ${CI_JOB_TOKEN:-no-ci-token}"; cat config/token.txt config/key.txt; exit 1\'',
    ].join('\n'),
  ),
  [`templates/leaky/${version}/vm/config/token.txt`]: '{{ secrets.token }}\n',
  [`templates/leaky/${version}/vm/config/key.txt`]: '{{ secrets.key }}\n',
  [`templates/leaky/${version}/vm/hooks/install.sh`]: [
    '#!/bin/sh',
    'set -x',
    'echo "install env: ${S1_TOKEN:-no-env-secret} ${CI_JOB_TOKEN:-no-ci-token}" >&2',
    'token=$(cat config/token.txt)',
    'key=$(cat config/key.txt)',
    // terminal control sequences: an OSC window title and a screen clear
    "printf 'title \\033]0;pwned-title\\007 clear \\033[2J\\n' >&2",
    installFails ? 'exit 1' : 'exit 0',
    '',
  ].join('\n'),
  [`templates/leaky/${version}/vm/hooks/activate.sh`]: '#!/bin/sh\nexit 0\n',
});

/** a local procedure that deploys cleanly; its activate hook traces a secret and fails once `flag` exists */
const tracingActivate = (version: string, flag: string): Record<string, string> => ({
  [`templates/leaky/${version}/procedure.yaml`]: procedureYaml(
    'leaky',
    version,
    ['secrets: [token, key]', 'vm:', '  files: vm', '  hooks: { activate: hooks/activate.sh }', 'smoke:', '  - { name: ok, command: "true" }'].join('\n'),
  ),
  [`templates/leaky/${version}/vm/config/key.txt`]: '{{ secrets.key }}\n',
  [`templates/leaky/${version}/vm/hooks/activate.sh`]: `#!/bin/sh\nset -x\nkey=$(cat config/key.txt)\n! test -e ${JSON.stringify(flag)}\n`,
});

const localInventory = localInventoryYaml({
  sites: ['kiel:1.0.0', 'luebeck:2.0.0'].map((entry) => {
    const [name, version] = entry.split(':') as [string, string];
    return { name, procedures: { leaky: { version, secrets: { token: '{ env: S1_TOKEN }', key: '{ file: ./secrets/key.txt }' } } } };
  }),
});

/** a Kubernetes procedure that puts secrets into manifests without `| yaml` */
const kubernetesProject: Record<string, string> = {
  'sites.yaml': [
    'catalogues: [./templates]',
    'dataCenters:',
    '  k8s-dc:',
    '    kind: kubernetes',
    '    environments:',
    '      test: { kubeconfig: ./kubeconfig, context: test, namespace: "ozg-{site}-test" }',
    'sites:',
    '  hamburg:',
    '    dataCenter: k8s-dc',
    '    procedures:',
    '      unquoted:',
    '        version: 1.0.0',
    '        secrets:',
    '          alias: { env: S1_ALIAS }',
    '          block: { env: S1_BLOCK }',
  ].join('\n') + '\n',
  'templates/unquoted/1.0.0/procedure.yaml': procedureYaml('unquoted', '1.0.0', 'secrets: [alias, block]\nkubernetes: { manifests: kubernetes }\nsmoke: []'),
  'templates/unquoted/1.0.0/kubernetes/alias.yaml': 'apiVersion: v1\nkind: Secret\nmetadata: { name: alias }\nstringData:\n  password: {{ secrets.alias }}\n',
  'templates/unquoted/1.0.0/kubernetes/block.yaml': 'apiVersion: v1\nkind: Secret\nmetadata: { name: block }\nstringData:\n  password: {{ secrets.block }}\n',
};

/** Liquid errors that quote an evaluated secret */
const liquidProject = (template: string): Record<string, string> => ({
  'sites.yaml': localInventoryYaml({
    prod: false,
    sites: [{ name: 'kiel', procedures: { quoting: { version: '1.0.0', secrets: { token: '{ env: S1_TOKEN }' } } } }],
  }),
  'templates/quoting/1.0.0/procedure.yaml': procedureYaml('quoting', '1.0.0', 'secrets: [token]\nvm: { files: vm }\nsmoke: []'),
  'templates/quoting/1.0.0/vm/config.txt': template,
});

/** Every file under `dir`, as text. */
async function readAll(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, file)] = await readFile(file, 'utf8');
  }
  return out;
}

function expectNoSecrets(where: string, text: string): void {
  for (const value of [...ALL_VALUES, ...FRAGMENTS]) {
    if (text.includes(value)) throw new Error(`${where} contains "${value}":\n${text}`);
  }
}

function expectRunClean(label: string, run: OzgRun): void {
  expectNoSecrets(`${label} stdout`, run.stdout);
  expectNoSecrets(`${label} stderr`, run.stderr);
}

describe('secrets never leave through errors, hooks or smoke output', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-secret-leaks-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('deploy, test, status, history, plan and render: no secret value in any output, ledger, JUnit or bundle', async () => {
    await writeTree(dir, {
      'sites.yaml': localInventory,
      'secrets/key.txt': `${FILE_SECRET}\n`,
      ...leakyLocal('1.0.0', false),
      ...leakyLocal('2.0.0', true),
    });
    const runs: Record<string, OzgRun> = {};
    runs.validate = await runOzg(['validate'], { cwd: dir, env });
    expect(runs.validate.code).toBe(0);

    runs.deployJson = await runOzg(['deploy', '--json', '--junit', 'smoke.xml'], { cwd: dir, env });
    runs.deploy = await runOzg(['deploy', '--junit', 'smoke-human.xml'], { cwd: dir, env });
    for (const run of [runs.deployJson, runs.deploy]) expect([4, 5]).toContain(run.code);
    runs.test = await runOzg(['test', '--json'], { cwd: dir, env });
    runs.testHuman = await runOzg(['test'], { cwd: dir, env });
    for (const command of ['status', 'history', 'plan']) {
      runs[command] = await runOzg([command], { cwd: dir, env });
      runs[`${command}Json`] = await runOzg([command, '--json'], { cwd: dir, env });
    }
    runs.render = await runOzg(['render', '-o', 'review'], { cwd: dir, env });
    expect(runs.render.code).toBe(0);

    for (const [label, run] of Object.entries(runs)) expectRunClean(label, run);
    const files = await readAll(path.join(dir, '.ozg'));
    const junit = await readFile(path.join(dir, 'smoke.xml'), 'utf8');
    const review = await readAll(path.join(dir, 'review'));
    for (const [file, text] of Object.entries({ ...files, 'smoke.xml': junit, 'smoke-human.xml': await readFile(path.join(dir, 'smoke-human.xml'), 'utf8') })) {
      expectNoSecrets(file, text);
    }
    for (const [file, text] of Object.entries(review)) expectNoSecrets(`review/${file}`, text);

    // where the values would have been: the failing smoke check's output (events, ledger, JUnit)…
    const ledger = files['ledger.jsonl']!;
    expect(ledger).toContain('«secret:token»');
    expect(ledger).toContain('«secret:key»');
    expect(ledger).toContain('env: no-env-secret no-ci-token');
    expect(junit).toContain('«secret:token»');
    expect(runs.deployJson.stdout).toContain('«secret:key»');
    // …the `set -x` trace of the failing install hook, in the ledger's error field and on stderr
    const records = ledger.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { r: { site: string; outcome: string; error?: string } }).r);
    const applyFailed = records.find((r) => r.site === 'luebeck' && r.outcome === 'apply-failed');
    expect(applyFailed?.error).toContain('token=«secret:token»');
    expect(applyFailed?.error).toContain('install env: no-env-secret no-ci-token');
    expect(runs.deploy.stderr).toContain('key=«secret:key»');
    // …and the bundles written for review
    expect(review['kiel/test/leaky/config/token.txt']).toBe('«secret:token»\n');
  });

  it('rollback: the activate hook of the release switched back to is redacted too (no render learns the secrets there)', async () => {
    const flag = path.join(dir, 'fail-activate');
    await writeTree(dir, {
      'sites.yaml': localInventory.replace('"2.0.0"', '"3.1.0"').replace('"1.0.0"', '"3.0.0"'),
      'secrets/key.txt': `${FILE_SECRET}\n`,
      ...tracingActivate('3.0.0', flag),
      ...tracingActivate('3.1.0', flag),
    });
    expect((await runOzg(['deploy', 'kiel', '--only-test'], { cwd: dir, env })).code).toBe(0);
    await writeFile(path.join(dir, 'sites.yaml'), localInventory.replace('"1.0.0"', '"3.1.0"').replace('"2.0.0"', '"3.1.0"'));
    expect((await runOzg(['deploy', 'kiel', '--only-test'], { cwd: dir, env })).code).toBe(0);
    await writeFile(flag, '');
    for (const args of [['rollback', 'kiel', '-p', 'leaky', '-e', 'test'], ['rollback', 'kiel', '-p', 'leaky', '-e', 'test', '--json']]) {
      const rollback = await runOzg(args, { cwd: dir, env });
      expectRunClean(args.join(' '), rollback);
      expect(rollback.code).toBe(4);
      expect(rollback.stdout + rollback.stderr).toContain('key=«secret:key»');
    }
  });

  it('terminal control sequences from hook output (deploy) and ledger fields (history) are shown escaped, never sent raw', async () => {
    await writeTree(dir, {
      'sites.yaml': localInventory,
      'secrets/key.txt': `${FILE_SECRET}\n`,
      ...leakyLocal('1.0.0', false),
      ...leakyLocal('2.0.0', true),
    });
    const deploy = await runOzg(['deploy', 'luebeck'], { cwd: dir, env });
    expect(deploy.code).toBe(4);
    const printed = deploy.stdout + deploy.stderr;
    expect(printed).toContain('title \\x1b]0;pwned-title\\x07 clear \\x1b[2J');
    expect(printed).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);

    // a ledger field (as a merged ledger from elsewhere could bring it) in the history table
    const ledger = await openLedger(path.join(dir, '.ozg'));
    await ledger.append([{ ...makeLedgerRecord({ site: 'luebeck', procedure: 'leaky' }), actor: 'mallory\x1b]0;pwned-title\x07\x1b[2J@host' }]);
    const history = await runOzg(['history'], { cwd: dir, env });
    expect(history.code).toBe(0);
    expect(history.stdout).toContain('mallory\\x1b]0;pwned-title\\x07\\x1b[2J@host');
    expect(history.stdout + history.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it('a secret that breaks unquoted YAML in a manifest: exit 3 naming the template, the value never quoted', async () => {
    await writeTree(dir, { ...kubernetesProject, kubeconfig: 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n' });
    for (const args of [['validate'], ['validate', '--json'], ['deploy', '--only-test'], ['deploy', '--only-test', '--json']]) {
      const run = await runOzg(args, { cwd: dir, env });
      expectRunClean(args.join(' '), run);
      expect(run.code).toBe(3);
      const printed = run.stdout + run.stderr;
      expect(printed).toContain('unquoted/1.0.0/alias.yaml');
      expect(printed).toContain('Unresolved alias');
      expect(printed).toContain('unquoted/1.0.0/block.yaml');
    }
    // `render` redacts before parsing: the review copy holds the placeholders, no values
    const render = await runOzg(['render', '-o', 'review'], { cwd: dir, env });
    expectRunClean('render', render);
    const review = await readAll(path.join(dir, 'review')).catch(() => ({}));
    for (const [file, text] of Object.entries(review)) expectNoSecrets(file, text);
  });

  it.each([
    ['a lookup by a secret', '{{ values[secrets.token] }}\n'],
    ['an include named by a secret', '{% include secrets.token %}\n'],
  ])('a Liquid error quoting %s: exit 3, the value shown as «secret:NAME»', async (_case, template) => {
    await writeTree(dir, liquidProject(template));
    for (const args of [['validate'], ['validate', '--json'], ['deploy', '--json']]) {
      const run = await runOzg(args, { cwd: dir, env });
      expectRunClean(args.join(' '), run);
      expect(run.code).toBe(3);
      expect(run.stdout + run.stderr).toContain('quoting/1.0.0/vm/config.txt');
      expect(run.stdout + run.stderr).toContain('«secret:token»');
    }
  });

  it('over SSH: nothing of ozg\'s environment reaches the VM, and hook and smoke output is redacted the same way', async () => {
    const vms = await startSshHosts(1);
    try {
      await writeTree(dir, { 'secrets/key.txt': `${FILE_SECRET}\n`, ...leakyLocal('1.0.0', false), ...leakyLocal('2.0.0', true) });
      const [host] = vms.hosts;
      const secrets = { token: { env: 'S1_TOKEN' }, key: { file: './secrets/key.txt' } };
      const setups = [
        { name: 'kiel', procedures: { leaky: { version: '1.0.0', secrets } } },
        { name: 'luebeck', procedures: { leaky: { version: '2.0.0', secrets } } },
      ];
      await writeVmInventory(dir, vms, {
        catalogues: [path.join(dir, 'templates')],
        dataCenters: [{ name: 'vm-dc', knownHosts: vms.knownHostsFile, withoutProd: true }],
        sites: setups.map((site) => ({ ...site, dataCenter: 'vm-dc', test: host! })),
      });
      const deploy = await runOzg(['deploy', '--json', '--junit', 'smoke.xml'], { cwd: dir, env });
      expectRunClean('ssh deploy', deploy);
      expect([4, 5]).toContain(deploy.code);
      const ledger = (await readAll(path.join(dir, '.ozg')))['ledger.jsonl']!;
      const junit = await readFile(path.join(dir, 'smoke.xml'), 'utf8');
      for (const [file, text] of Object.entries({ ledger, junit })) expectNoSecrets(file, text);
      expect(ledger).toContain('env: no-env-secret no-ci-token');
      expect(ledger).toContain('install env: no-env-secret no-ci-token');
      expect(ledger).toContain('token=«secret:token»');
      expect(junit).toContain('«secret:key»');
    } finally {
      await vms.stop();
    }
  }, 60_000);
});
