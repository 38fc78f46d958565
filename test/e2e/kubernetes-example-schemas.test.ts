import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { typedConversionErrors } from '../helpers/kube-api/apply-schema.js';
import { resourceTypeForKind } from '../helpers/kube-api/resources.js';
import { copyToTemp, removeTemp, repoRoot, runOzg } from '../helpers/run-ozg.js';

/**
 * The test API server's trimmed apply schema (test/helpers/kube-api/apply-schema.ts) must
 * describe every field the example procedures in templates/ use, or a correct manifest would
 * fail there: render every example bundle for a Kubernetes data center and convert each object.
 */
let dir: string;

afterAll(async () => {
  if (dir) await removeTemp(dir);
});

async function yamlFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.yaml')).map((e) => path.join(e.parentPath, e.name));
}

it('the example procedures’ rendered Kubernetes manifests pass the typed conversion of apply', async () => {
  dir = await copyToTemp([{ from: path.join(repoRoot, 'templates'), to: 'templates' }, { from: path.join(repoRoot, 'examples'), to: 'examples' }, { from: path.join(repoRoot, 'sites.example.yaml'), to: 'sites.yaml' }]);
  const inventory = (await readFile(path.join(dir, 'sites.yaml'), 'utf8')).replace(
    /  local-dc:\n    kind: local\n    keepReleases: 3\n    environments:\n      test: \{ root: \.\/\.ozg\/targets\/test \}\n      prod: \{ root: \.\/\.ozg\/targets\/prod \}\n/,
    '  local-dc:\n    kind: kubernetes\n    environments:\n      test: { kubeconfig: ./kubeconfig.yaml, namespace: "ozg-{site}-test" }\n      prod: { kubeconfig: ./kubeconfig.yaml, namespace: "ozg-{site}-prod" }\n',
  );
  expect(inventory).toContain('kind: kubernetes');
  await writeFile(path.join(dir, 'sites.yaml'), inventory);
  // render reads no cluster: the kubeconfig only has to exist
  await writeFile(
    path.join(dir, 'kubeconfig.yaml'),
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );
  const run = await runOzg(['render', '-o', 'out'], { cwd: dir });
  expect({ code: run.code, stderr: run.stderr.split('\n').filter((l) => /error/i.test(l)) }).toEqual({ code: 0, stderr: [] });

  const checked: string[] = [];
  const problems: string[] = [];
  for (const file of await yamlFiles(path.join(dir, 'out'))) {
    for (const document of parseAllDocuments(await readFile(file, 'utf8'))) {
      const object = document.toJS();
      if (!object?.kind) continue;
      const type = resourceTypeForKind(object.apiVersion, object.kind);
      if (!type) {
        problems.push(`${file}: ${object.kind} not served by the test server`);
        continue;
      }
      checked.push(object.kind);
      for (const error of typedConversionErrors(type, object)) problems.push(`${path.relative(dir, file)}: ${error}`);
    }
  }
  expect(problems).toEqual([]);
  expect(new Set(checked)).toEqual(new Set(['ConfigMap', 'Secret', 'Deployment', 'Service', 'Ingress', 'CronJob', 'PersistentVolumeClaim']));
});
