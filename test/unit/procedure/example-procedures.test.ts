/**
 * The procedures shipped under templates/: every version renders for vm and kubernetes with
 * a realistic site, the output is valid in its format, and the VM hooks really run.
 * New versions are picked up automatically.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import YAML from 'yaml';
import type { Setup, Site } from '../../../src/inventory/types.js';
import { renderBundle, renderCloudInitFragment } from '../../../src/procedure/render.js';
import type { Bundle, Procedure } from '../../../src/procedure/types.js';
import { podSecurityViolations } from '../../helpers/kube-api/pod-security.js';

const templatesDir = fileURLToPath(new URL('../../../templates', import.meta.url));

/** Stand-in for the catalogue loader (written elsewhere): procedure.yaml as a Procedure. */
function loadProcedure(dir: string): Procedure {
  const file = path.join(dir, 'procedure.yaml');
  const doc = YAML.parse(readFileSync(file, 'utf8')) as Record<string, any>;
  return {
    name: doc.name,
    version: String(doc.version),
    description: doc.description,
    dir,
    file,
    valuesSchema: doc.values,
    secrets: doc.secrets ?? [],
    vm: doc.vm && { files: doc.vm.files, hooks: doc.vm.hooks ?? {}, cloudInit: doc.vm.cloudInit },
    kubernetes: doc.kubernetes,
    smoke: doc.smoke ?? [],
  };
}

// Helm chart procedures (Kubernetes only, rendered by the real helm) have their own test:
// test/integration/chart-procedures.test.ts.
const procedures = readdirSync(templatesDir)
  .flatMap((name) => readdirSync(path.join(templatesDir, name)).map((version) => loadProcedure(path.join(templatesDir, name, version))))
  .filter((p) => p.kubernetes?.chart === undefined);

/** Values a real municipality would set, with characters that need escaping. */
const siteValues: Record<string, Record<string, unknown>> = {
  'antrag-formular': {
    title: `Landeshauptstadt Kiel – "Online-Anträge" für's Bürgeramt $(id) \`uname\``,
    municipalityKey: '01002000',
    domain: 'antraege.kiel.de',
    contactEmail: 'buergerservice@kiel.de',
    formIds: ['gewerbe-anmeldung', 'hundesteuer-anmeldung', 'wohnsitz-ummeldung'],
    smtp: { host: 'mail.kiel.de' },
    ingressClass: 'nginx',
  },
  'dms-connector': {
    archiveUrl: 'https://e-akte.kiel.de/api/intake/v2',
    municipalityKey: '01002000',
    batchSize: 25,
  },
};
const secretValues = {
  smtpPassword: `pa'ss"w$(touch /tmp/ozg-pwned)\n\\ord`,
  archiveToken: 'eyJhbGciOiJIUzI1NiJ9.kiel.token',
};

const site: Site = {
  name: 'kiel',
  labels: { region: 'nord', size: 'gross' },
  dataCenter: 'local',
  facts: { municipalityKey: '01002000', domain: 'kiel.de' },
  setups: [],
};

function valuesFor(procedure: Procedure): Record<string, unknown> {
  const all = siteValues[procedure.name];
  if (!all) throw new Error(`add realistic values for ${procedure.name} to siteValues`);
  const known = (procedure.valuesSchema.properties ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(all).filter(([key]) => key in known));
}

function setupFor(procedure: Procedure): Setup {
  return {
    procedure: procedure.name,
    version: procedure.version,
    values: valuesFor(procedure),
    secrets: {},
    // shapes as schemas/inventory.schema.json defines them
    userConnection: { idp: 'servicekonto-sh', roles: ['sachbearbeitung', 'fachaufsicht'], options: { realm: 'kiel' } },
    processTransfers: [
      { name: 'gewerbe', destination: 'https://xta.kiel.example/gewerbe', options: { protocol: 'xta', messageType: 'fim.S00000000009' } },
      { name: 'hundesteuer', destination: "urn:de:osci:01002000:steueramt 'O\\'Neil'" },
    ],
  };
}

async function render(procedure: Procedure, targetKind: 'vm' | 'kubernetes', environment: 'test' | 'prod' = 'test'): Promise<Bundle> {
  return renderBundle({
    procedure,
    site,
    setup: setupFor(procedure),
    environment,
    targetKind,
    values: valuesFor(procedure),
    secrets: Object.fromEntries(procedure.secrets.map((name) => [name, secretValues[name as keyof typeof secretValues]])),
  });
}

/** Writes the bundle like the VM driver does: files with their modes under `dir`. */
function writeRelease(bundle: Bundle, dir: string): void {
  for (const file of bundle.files) {
    const target = path.join(dir, file.path);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, file.content);
    chmodSync(target, file.mode);
  }
}

function runIn(cwd: string, command: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const sh = env.PATH ? path.join(env.PATH.split(':')[0]!, 'sh') : 'sh';
  const result = spawnSync(existsSync(sh) ? sh : 'sh', ['-c', command], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Kinds a namespace-scoped deployer may create. */
const NAMESPACED_KINDS = new Set(['ConfigMap', 'Secret', 'Service', 'Deployment', 'StatefulSet', 'CronJob', 'Job', 'Ingress', 'PersistentVolumeClaim', 'ServiceAccount', 'NetworkPolicy', 'PodDisruptionBudget']);

it('has the tools the hook tests run', () => {
  for (const tool of ['sh', 'find', 'grep']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
    if (!found) throw new Error(`${tool} is missing: install it (apt-get install dash findutils grep)`);
  }
});

it('ships the example procedures', () => {
  const ids = procedures.map((p) => `${p.name}@${p.version}`);
  expect(ids).toEqual(expect.arrayContaining(['antrag-formular@1.0.0', 'antrag-formular@1.1.0', 'dms-connector@2.0.0']));
  for (const p of procedures) expect(p.dir).toBe(path.join(templatesDir, p.name, p.version));
});

describe.each(procedures.map((p) => [`${p.name}@${p.version}`, p] as const))('%s', (_id, procedure) => {
  it('declares a values schema that compiles strictly and accepts the realistic values', () => {
    const ajv = new Ajv({ strict: true, allErrors: true });
    ajv.addKeyword({ keyword: 'x-ozg-site-specific', schemaType: 'boolean' });
    const validate = ajv.compile(procedure.valuesSchema);
    expect([validate(valuesFor(procedure)), validate.errors ?? []]).toEqual([true, []]);
  });

  describe('vm', () => {
    let bundle: Bundle;
    let root: string;
    beforeAll(async () => {
      bundle = await render(procedure, 'vm');
      root = mkdtempSync(path.join(tmpdir(), `ozg-example-${procedure.name}-`));
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it('renders shell scripts that pass sh -n', () => {
      const scripts = bundle.files.filter((f) => f.path.endsWith('.sh'));
      expect(scripts.length).toBeGreaterThanOrEqual(3);
      for (const script of scripts) {
        const check = spawnSync('sh', ['-n'], { input: script.content, encoding: 'utf8' });
        expect([script.path, check.status, check.stderr]).toEqual([script.path, 0, '']);
        expect(script.content.toString()).toMatch(/^#!\/bin\/sh\n[\s\S]*^set -eu$/m);
      }
    });

    it('renders JSON and YAML that parse', () => {
      for (const file of bundle.files.filter((f) => f.path.endsWith('.json'))) {
        expect(() => JSON.parse(file.content.toString())).not.toThrow();
      }
      for (const file of bundle.files.filter((f) => /\.ya?ml$/.test(f.path))) {
        const docs = YAML.parseAllDocuments(file.content.toString());
        expect([file.path, docs.flatMap((d) => d.errors.map((e) => e.message))]).toEqual([file.path, []]);
      }
    });

    it('renders its cloud-init fragment, if any, as cloud-config YAML without secrets', async () => {
      const fragment = await renderCloudInitFragment({ procedure, site, setup: setupFor(procedure), environment: 'test', values: valuesFor(procedure) });
      if (!procedure.vm?.cloudInit) return expect(fragment).toBeUndefined();
      expect(fragment).toMatch(/^#cloud-config\n/);
      const doc = YAML.parseDocument(fragment!);
      expect(doc.errors).toEqual([]);
      const files = (doc.toJS() as { write_files?: Array<{ path: string; content: string }> }).write_files ?? [];
      for (const file of files) expect(file.content).toContain("OZG_SITE='kiel'");
    });

    it('keeps the realistic values intact through the escaping', () => {
      const config = bundle.files.find((f) => f.path.startsWith('config/') && f.path.endsWith('.json'))!;
      const parsed = JSON.parse(config.content.toString());
      expect(parsed.municipalityKey).toBe('01002000');
      if (procedure.name === 'antrag-formular') {
        const setup = setupFor(procedure);
        expect(parsed.title).toBe(siteValues['antrag-formular']!.title);
        expect(parsed.auth).toEqual(setup.userConnection);
        expect(parsed.processTransfers).toEqual(setup.processTransfers!.map((t) => ({ options: {}, ...(t as object) })));
      }
    });

    it('renders for a setup without user connection and process transfers', async () => {
      const bare = await renderBundle({
        procedure,
        site,
        setup: { procedure: procedure.name, version: procedure.version, values: {}, secrets: {} },
        environment: 'prod',
        targetKind: 'vm',
        values: valuesFor(procedure),
        secrets: Object.fromEntries(procedure.secrets.map((name) => [name, 'x'])),
      });
      for (const file of bare.files.filter((f) => f.path.endsWith('.json'))) {
        const parsed = JSON.parse(file.content.toString());
        if (procedure.name === 'antrag-formular') expect([parsed.auth, parsed.processTransfers]).toEqual([null, []]);
      }
    });

    it('marks exactly the files holding a secret as sensitive 0600, and nothing else contains it', () => {
      const sensitive = bundle.files.filter((f) => f.sensitive).map((f) => [f.path, f.mode]);
      expect(sensitive).toEqual(procedure.name === 'antrag-formular' ? [['config/smtp.env', 0o600]] : [['config/archive.env', 0o600]]);
      const secret = secretValues[procedure.secrets[0] as keyof typeof secretValues];
      for (const file of bundle.files.filter((f) => !f.sensitive)) expect(file.content.toString()).not.toContain(secret.slice(0, 6));
      expect(JSON.stringify(bundle.smoke)).not.toContain(secret.slice(0, 6));
    });

    it('installs, activates and passes its smoke checks in a real release directory, twice', () => {
      const release = path.join(root, 'releases', 'r1');
      const target = path.join(root, 'target');
      mkdirSync(release, { recursive: true });
      mkdirSync(target, { recursive: true });
      writeRelease(bundle, release);
      const env = {
        OZG_SITE: 'kiel',
        OZG_ENVIRONMENT: 'test',
        OZG_PROCEDURE: procedure.name,
        OZG_VERSION: procedure.version,
        OZG_RELEASE: 'r1',
        OZG_RELEASE_DIR: release,
        OZG_TARGET_DIR: target,
      };
      const commands = [`sh ${bundle.hooks.install}`, `sh ${bundle.hooks.activate}`, ...bundle.smoke.map((c) => ('command' in c ? c.command : ''))];
      expect(bundle.smoke.every((c) => 'command' in c)).toBe(true);
      const outputs: string[] = [];
      for (const round of [1, 2]) {
        for (const command of commands) {
          const result = runIn(release, command, env);
          expect([round, command, result.status, result.stderr]).toEqual([round, command, 0, expect.any(String)]);
          outputs.push(result.stdout);
        }
        // a completed application waiting in the shared outbox for the second round
        if (procedure.name === 'dms-connector') writeFileSync(path.join(target, 'shared/outbox/antrag-4711.xml'), '<xdomea/>');
      }
      if (procedure.name === 'dms-connector') expect(outputs.join('')).toMatch(/would send outbox\/antrag-4711\.xml/);
      // hooks write only below the release and the shared target directory
      expect(readdirSync(root).sort()).toEqual(['releases', 'target']);
      expect(readdirSync(path.join(root, 'releases'))).toEqual(['r1']);
      expect(existsSync('/tmp/ozg-pwned')).toBe(false);
      const check = runIn(release, bundle.smoke[0] && 'command' in bundle.smoke[0] ? bundle.smoke[0].command : 'false', env);
      expect(check.stdout).toMatch(new RegExp(`^${procedure.name} ${procedure.version.replace(/\./g, '\\.')} kiel/test: ok`));
    });

    it('installs and passes its checks on a minimal host without node or python', () => {
      // a PATH holding only POSIX tools, so the scripts take their fallback branches
      const bin = path.join(root, 'minimal-bin');
      mkdirSync(bin, { recursive: true });
      for (const tool of ['sh', 'mkdir', 'mv', 'rm', 'ln', 'ls', 'grep', 'head', 'find', 'wc', 'tr', 'cut', 'cat', 'sha256sum']) {
        const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
        if (!found) throw new Error(`${tool} is missing: install coreutils, findutils and grep`);
        if (!existsSync(path.join(bin, tool))) symlinkSync(found, path.join(bin, tool));
      }
      const release = mkdtempSync(path.join(root, 'minimal-'));
      writeRelease(bundle, release);
      const env = { PATH: bin, OZG_RELEASE: 'minimal', OZG_TARGET_DIR: path.join(root, 'target') };
      for (const command of [`sh ${bundle.hooks.install}`, `sh ${bundle.hooks.activate}`, ...bundle.smoke.map((c) => ('command' in c ? c.command : 'false'))]) {
        const result = runIn(release, command, env);
        expect([command, result.status, result.stderr]).toEqual([command, 0, expect.not.stringMatching(/: not found|command not found/)]);
        if (command === 'sh hooks/check.sh' && procedure.name === 'antrag-formular') expect(result.stdout).toMatch(/ok, config present$/m);
      }
    });

    it('fails its smoke check when the configuration is broken', () => {
      const release = mkdtempSync(path.join(root, 'broken-'));
      writeRelease(bundle, release);
      const env = { OZG_RELEASE: 'broken', OZG_TARGET_DIR: path.join(root, 'target') };
      expect(runIn(release, `sh ${bundle.hooks.install}`, env).status).toBe(0);
      const config = bundle.files.find((f) => f.path.startsWith('config/') && f.path.endsWith('.json'))!;
      writeFileSync(path.join(release, config.path), config.content.toString().replace('01002000', '99999999'));
      const command = bundle.smoke[0] && 'command' in bundle.smoke[0] ? bundle.smoke[0].command : 'false';
      const result = runIn(release, command, env);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/^check: /m);
    });

    it('refuses to install when the secret file is readable by others', () => {
      const release = mkdtempSync(path.join(root, 'loose-'));
      writeRelease(bundle, release);
      const secretFile = bundle.files.find((f) => f.sensitive)!;
      chmodSync(path.join(release, secretFile.path), 0o644);
      const result = runIn(release, `sh ${bundle.hooks.install}`, { OZG_TARGET_DIR: path.join(root, 'target') });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/must be mode 0600/);
    });
  });

  describe('kubernetes', () => {
    let bundle: Bundle;
    beforeAll(async () => {
      bundle = await render(procedure, 'kubernetes');
    });

    it('renders manifests that parse, name no namespace and only namespaced kinds', () => {
      expect(bundle.files.length).toBeGreaterThanOrEqual(3);
      expect(bundle.hooks).toEqual({});
      for (const file of bundle.files) {
        const text = file.content.toString();
        expect([file.path, /^\s*namespace\s*:/m.test(text)]).toEqual([file.path, false]);
        const docs = YAML.parseAllDocuments(text, { version: '1.1' });
        expect([file.path, docs.flatMap((d) => d.errors.map((e) => e.message))]).toEqual([file.path, []]);
        for (const doc of docs) {
          const manifest = doc.toJS() as { apiVersion: string; kind: string; metadata: Record<string, unknown> };
          expect(NAMESPACED_KINDS.has(manifest.kind)).toBe(true);
          expect(manifest.apiVersion).toMatch(/^(v1|apps\/v1|batch\/v1|networking\.k8s\.io\/v1|policy\/v1)$/);
          expect(manifest.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
          expect(manifest.metadata).not.toHaveProperty('namespace');
        }
      }
    });

    it('has pod templates that pass the `restricted` Pod Security Standard (as the test API server enforces it)', () => {
      let checked = 0;
      for (const file of bundle.files) {
        for (const doc of YAML.parseAllDocuments(file.content.toString(), { version: '1.1' })) {
          const manifest = doc.toJS() as { kind: string; spec?: any };
          const podSpec = manifest.kind === 'CronJob' ? manifest.spec?.jobTemplate?.spec?.template?.spec : manifest.spec?.template?.spec;
          if (!podSpec) continue;
          checked++;
          expect([file.path, podSecurityViolations('restricted', podSpec)]).toEqual([file.path, []]);
        }
      }
      expect(checked).toBeGreaterThan(0);
    });

    it('carries the secret only in the Secret, and config that parses', () => {
      const secret = secretValues[procedure.secrets[0] as keyof typeof secretValues];
      for (const file of bundle.files) {
        const manifest = YAML.parse(file.content.toString(), { version: '1.1' });
        expect([file.path, file.sensitive, file.mode]).toEqual(manifest.kind === 'Secret' ? [file.path, true, 0o600] : [file.path, false, 0o644]);
        if (manifest.kind === 'Secret') expect(Object.values(manifest.stringData)).toContain(secret);
        if (manifest.kind === 'ConfigMap') {
          for (const [key, value] of Object.entries(manifest.data as Record<string, string>)) {
            if (key.endsWith('.json')) expect(JSON.parse(value).municipalityKey).toBe('01002000');
          }
        }
      }
    });
  });

  it('hashes deterministically', async () => {
    const [a, b] = await Promise.all([render(procedure, 'vm'), render(procedure, 'vm')]);
    expect(a.hash).toBe(b.hash);
    expect((await render(procedure, 'vm', 'prod')).hash).not.toBe(a.hash);
    expect((await render(procedure, 'kubernetes')).hash).not.toBe(a.hash);
  });
});
