import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from '../../helpers/kube-api/patch.js';
import { compileFieldSelector, compileLabelSelector, labelSelectorToString } from '../../helpers/kube-api/selectors.js';
import { ApiError } from '../../helpers/kube-api/status.js';

function caught(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front', 'ozg.example/site': 'kiel' };

  it.each([
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app!=api', true],
    ['tier in (front,back)', true],
    ['tier notin (front)', false],
    ['ozg.example/site', true],
    ['!ozg.example/site', false],
    ['!missing', true],
    ['missing!=x', true],
    ['app=web,tier in (back)', false],
    ['', true],
  ])('%j matches: %s', (selector, expected) => {
    expect(compileLabelSelector(selector)(labels)).toBe(expected);
  });

  it('refuses what the API server cannot parse with 400 BadRequest', () => {
    const error = caught(() => compileLabelSelector('app=web=x'));
    expect(error.code).toBe(400);
  });

  it('renders selector objects the way controllers select pods', () => {
    expect(labelSelectorToString({ matchLabels: { b: '2', a: '1' }, matchExpressions: [{ key: 'c', operator: 'In', values: ['y', 'x'] }] })).toBe('a=1,b=2,c in (x,y)');
  });
});

describe('field selectors', () => {
  const pod = { metadata: { name: 'web-1', namespace: 'ozg-kiel' }, status: { phase: 'Running' } };

  it('match metadata.name and the per-type fields', () => {
    expect(compileFieldSelector('pods', 'metadata.name=web-1,status.phase!=Failed')(pod)).toBe(true);
    expect(compileFieldSelector('pods', 'status.phase=Pending')(pod)).toBe(false);
  });

  it('refuse fields the type does not index, like the real server', () => {
    const error = caught(() => compileFieldSelector('configmaps', 'data.a=1'));
    expect(error.code).toBe(400);
    expect(error.message).toBe('field label not supported: data.a');
  });
});

describe('patches', () => {
  const live = { metadata: { name: 'web', labels: { a: '1', b: '2' } }, spec: { containers: [{ name: 'web', image: 'web:1' }, { name: 'sidecar', image: 'side:1' }] } };

  it('merge patch: null deletes, maps merge, lists are replaced', () => {
    expect(applyMergePatch(live, { metadata: { labels: { a: null, c: '3' } }, spec: { containers: [{ name: 'only' }] } })).toEqual({
      metadata: { name: 'web', labels: { b: '2', c: '3' } },
      spec: { containers: [{ name: 'only' }] },
    });
  });

  it('strategic merge patch: keyed lists merge by name, $patch: delete removes an item', () => {
    const patched = applyStrategicMergePatch(live, { spec: { containers: [{ name: 'web', image: 'web:2' }, { name: 'sidecar', $patch: 'delete' }] } });
    expect(patched).toEqual({ metadata: live.metadata, spec: { containers: [{ name: 'web', image: 'web:2' }] } });
  });

  it('JSON patch: add, replace, remove, test, and 422 for paths that are not there', () => {
    const patched = applyJsonPatch(live, [
      { op: 'test', path: '/metadata/name', value: 'web' },
      { op: 'add', path: '/metadata/labels/ozg.example~1site', value: 'kiel' },
      { op: 'replace', path: '/spec/containers/0/image', value: 'web:3' },
      { op: 'remove', path: '/spec/containers/1' },
      { op: 'add', path: '/spec/containers/-', value: { name: 'last', image: 'x' } },
    ]) as typeof live;
    expect(patched.metadata.labels).toEqual({ a: '1', b: '2', 'ozg.example/site': 'kiel' });
    expect(patched.spec.containers.map((c) => `${c.name}=${c.image}`)).toEqual(['web=web:3', 'last=x']);

    expect(caught(() => applyJsonPatch(live, [{ op: 'replace', path: '/spec/missing', value: 1 }])).code).toBe(422);
    expect(caught(() => applyJsonPatch(live, [{ op: 'test', path: '/metadata/name', value: 'api' }])).code).toBe(422);
  });
});
