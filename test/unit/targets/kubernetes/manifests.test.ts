import { InvalidInputError } from '../../../../src/errors.js';
import { labelObject, LABELS, readBundleManifests } from '../../../../src/targets/kubernetes/manifests.js';
import { configMap, deployment, makeBundle, secret, service } from './make-bundle.js';

const context = { namespace: 'ozg-kiel-test' };

function problemsOf(files: Record<string, string>): InvalidInputError {
  try {
    readBundleManifests(makeBundle(files), context);
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error('expected the bundle to be refused');
}

describe('readBundleManifests (scope guard)', () => {
  it('takes the namespaced kinds, sets the namespace and sorts them for applying', () => {
    const objects = readBundleManifests(
      makeBundle({
        'deployment.yaml': deployment('web', 'registry.example/web:1'),
        'configmap.yaml': configMap('web-config'),
        'secret.yaml': secret('web-smtp', 'hunter2'),
        'service.yaml': service('web'),
      }),
      context,
    );
    expect(objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).toEqual(['Secret/web-smtp', 'ConfigMap/web-config', 'Service/web', 'Deployment/web']);
    expect(objects.every((o) => o.object.metadata.namespace === 'ozg-kiel-test')).toBe(true);
    expect(objects.find((o) => o.object.kind === 'Deployment')!.info.workload).toBe('deployment');
  });

  it('accepts metadata.namespace when it names the target namespace', () => {
    const text = configMap('a').replace('  name: a\n', '  name: a\n  namespace: ozg-kiel-test\n');
    expect(readBundleManifests(makeBundle({ 'a.yaml': text }), context)).toHaveLength(1);
  });

  it('refuses a ClusterRole, naming file, line and document', () => {
    const clusterRole = 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n';
    const error = problemsOf({ 'rbac.yaml': `${configMap('first')}---\n${clusterRole}` });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatchObject({ file: 'antrag-formular/1.0.0/rbac.yaml', line: 9, path: 'documents[1].kind' });
    expect(error.problems[0]!.message).toMatch(/ClusterRole is cluster-scoped/);
    expect(error.exitCode).toBe(3);
    expect(error.hint).toMatch(/nothing was sent to namespace ozg-kiel-test/);
  });

  it.each([
    ['Namespace', 'v1'],
    ['CustomResourceDefinition', 'apiextensions.k8s.io/v1'],
    ['ClusterRoleBinding', 'rbac.authorization.k8s.io/v1'],
    ['PersistentVolume', 'v1'],
    ['StorageClass', 'storage.k8s.io/v1'],
    ['PriorityClass', 'scheduling.k8s.io/v1'],
    ['ValidatingWebhookConfiguration', 'admissionregistration.k8s.io/v1'],
    ['MutatingWebhookConfiguration', 'admissionregistration.k8s.io/v1'],
  ])('refuses the cluster-scoped kind %s', (kind, apiVersion) => {
    const error = problemsOf({ 'x.yaml': `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: x\n` });
    expect(error.problems[0]!.message).toMatch(new RegExp(`${kind} is cluster-scoped`));
  });

  it('refuses kinds it does not know, and names the apiVersion it expects for known ones', () => {
    const error = problemsOf({
      'a.yaml': 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n',
      'b.yaml': 'apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: i\n',
    });
    expect(error.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/example.com\/v1 Widget is not a kind ozg deploys into a namespace \(supported: ServiceAccount, Secret/),
      expect.stringMatching(/Ingress extensions\/v1beta1 is not supported: use apiVersion networking.k8s.io\/v1/),
    ]);
  });

  it('refuses an object naming another namespace, at the line of metadata.namespace', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: kube-system\n';
    const error = problemsOf({ 'c.yaml': text });
    expect(error.problems[0]).toMatchObject({ line: 5, col: 14, path: 'documents[0].metadata.namespace' });
    expect(error.problems[0]!.message).toMatch(/names namespace "kube-system", but this target is namespace ozg-kiel-test only/);
  });

  it('reports every problem at once: names, duplicates, reserved names, stray files, YAML errors', () => {
    const error = problemsOf({
      'dup.yaml': `${configMap('same')}---\n${configMap('same')}`,
      'reserved.yaml': configMap('ozg-release-antrag-formular'),
      'noname.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n',
      'README.md': '# notes',
      'broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: [\n',
      'labels.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: l\n  labels:\n    replicas: 3\n',
      'list.yaml': 'apiVersion: v1\nkind: List\nitems: []\n',
    });
    const messages = error.problems.map((p) => `${p.file.split('/').pop()}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^README.md: is not a manifest/),
        expect.stringMatching(/^broken.yaml: YAML: /),
        expect.stringMatching(/^dup.yaml: ConfigMap\/same is defined twice \(also in dup.yaml#1\)/),
        expect.stringMatching(/^labels.yaml: ConfigMap\/l: metadata.labels must map names to strings/),
        expect.stringMatching(/^list.yaml: List is not deployed as such/),
        expect.stringMatching(/^noname.yaml: ConfigMap needs metadata.name/),
        expect.stringMatching(/^reserved.yaml: .*reserves for its records/),
      ]),
    );
    expect(error.problems).toHaveLength(7);
  });

  it('never quotes the source of a file with secrets in a YAML error', () => {
    const error = problemsOf({ 'secret.yaml': 'apiVersion: v1\nkind: Secret\nstringData:\n  PASSWORD: "s3cr3t\n  x: [\n' });
    expect(error.message).not.toMatch(/s3cr3t/);
  });

  it('an alias without its anchor is a problem at its position, not a crash; a file with secrets is not quoted', () => {
    const text = 'apiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData:\n  PASSWORD: *Xk9#Secret\n';
    const plain = problemsOf({ 'secret.yaml': text });
    expect(plain.problems).toEqual([
      { file: 'antrag-formular/1.0.0/secret.yaml', line: 5, col: 13, path: 'documents[0]', message: 'YAML: Unresolved alias (the anchor must be set before the alias): Xk9#Secret' },
    ]);
    const sensitive = (() => {
      try {
        readBundleManifests(makeBundle({ 'secret.yaml': text, 'block.yaml': text.replace('*Xk9#Secret', '|Xk9#Secret') }, { sensitive: ['secret.yaml', 'block.yaml'] }), context);
      } catch (error) {
        return error as InvalidInputError;
      }
      throw new Error('expected the bundle to be refused');
    })();
    expect(sensitive).toBeInstanceOf(InvalidInputError);
    expect(sensitive.message).not.toContain('Xk9');
    expect(sensitive.problems.map((p) => `${p.file}:${p.line}:${p.col}`)).toEqual(expect.arrayContaining(['antrag-formular/1.0.0/secret.yaml:5:13', 'antrag-formular/1.0.0/block.yaml:5:14']));
  });

  it('reads YAML as the API server does (1.1: 0644 is octal, dates stay strings) and skips empty documents', () => {
    const text = `---\n${configMap('c')}---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  annotations:\n    since: "x"\nspec:\n  template:\n    spec:\n      volumes:\n        - name: v\n          configMap: { name: c, defaultMode: 0644 }\n      x-date: 2024-01-02\n`;
    const objects = readBundleManifests(makeBundle({ 'all.yaml': text }), context);
    expect(objects.map((o) => o.source)).toEqual(['all.yaml#1', 'all.yaml#3']);
    const spec = (objects[1]!.object.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    expect((spec.volumes as Array<{ configMap: { defaultMode: number } }>)[0]!.configMap.defaultMode).toBe(0o644);
    expect(spec['x-date']).toBe('2024-01-02');
  });
});

describe('labelObject', () => {
  it("puts ozg's labels on the object, over the template's, and leaves pod templates alone", () => {
    const [object] = readBundleManifests(makeBundle({ 'd.yaml': deployment('web', 'img').replace('app.kubernetes.io/name: web\nspec', 'app.kubernetes.io/name: web\n    app.kubernetes.io/managed-by: helm\nspec') }), context);
    const labelled = labelObject(object!.object, { site: 'kiel', environment: 'test', procedure: 'antrag-formular', release: '20260101T000000Z-abcdef12' });
    expect(labelled.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'web',
      [LABELS.managedBy]: 'ozg',
      [LABELS.site]: 'kiel',
      [LABELS.environment]: 'test',
      [LABELS.procedure]: 'antrag-formular',
      [LABELS.release]: '20260101T000000Z-abcdef12',
    });
    const template = (labelled.spec as { template: { metadata: { labels: Record<string, string> } } }).template;
    expect(template.metadata.labels).toEqual({ 'app.kubernetes.io/name': 'web' });
    expect(object!.object.metadata.labels).not.toHaveProperty(LABELS.release); // a copy, not changed in place
  });
});

describe('readBundleManifests (replicas of HPA-scaled workloads)', () => {
  const hpa = (target: string, kind = 'Deployment'): string =>
    `apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: ${target}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: ${kind}, name: ${target}}\n  minReplicas: 2\n  maxReplicas: 5\n`;
  const replicasOf = (objects: ReturnType<typeof readBundleManifests>, name: string) =>
    (objects.find((o) => o.info.kind === 'Deployment' && o.object.metadata.name === name)!.object.spec as Record<string, unknown>).replicas;

  it('leaves spec.replicas out of the Deployment an HPA of the bundle targets, and only that one', () => {
    const objects = readBundleManifests(
      makeBundle({ 'web.yaml': deployment('web', 'img:1', 3), 'worker.yaml': deployment('worker', 'img:1', 2), 'hpa.yaml': hpa('web') }),
      context,
    );
    expect(replicasOf(objects, 'web')).toBeUndefined();
    expect(replicasOf(objects, 'worker')).toBe(2);
  });

  it('keeps spec.replicas when the HPA targets another kind of the same name', () => {
    const objects = readBundleManifests(makeBundle({ 'web.yaml': deployment('web', 'img:1', 3), 'hpa.yaml': hpa('web', 'StatefulSet') }), context);
    expect(replicasOf(objects, 'web')).toBe(3);
  });
});
