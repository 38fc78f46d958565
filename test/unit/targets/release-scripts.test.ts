import { spawnSync } from 'node:child_process';
import {
  buildApplyScript,
  buildLiveScript,
  buildRollbackScript,
  buildSmokeCommandScript,
  formatIdentity,
  parseScriptReport,
  renderReleaseMetadata,
} from '../../../src/targets/vm/release-scripts.js';

const context = { root: "/srv/ozg/o'brien $(x)", site: 'kiel', environment: 'test', procedure: 'antrag-formular' };

/** `sh -n` parses without running: every script the driver sends must be valid POSIX sh (dash here). */
function expectValidSh(script: string): void {
  const r = spawnSync('sh', ['-n', '-c', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

describe('release scripts', () => {
  it('are valid sh', () => {
    expectValidSh(buildLiveScript(context));
    expectValidSh(buildApplyScript({ ...context, release: 'r1', marker: '{"a":"it\'s"}', keepReleases: 3 }));
    expectValidSh(buildRollbackScript({ ...context, deployedAt: '2026-01-01T00:00:00.000Z' }));
    expectValidSh(buildRollbackScript({ ...context, toRelease: 'r0', deployedAt: '2026-01-01T00:00:00.000Z' }));
    expectValidSh(buildSmokeCommandScript(context, 'test -f config/app.conf'));
  });

  it('quote every value that comes from outside', () => {
    const script = buildApplyScript({ ...context, site: "a'b", release: 'r1', marker: '{}', keepReleases: 3 });
    expect(script).toContain(`dir='/srv/ozg/o'\\''brien $(x)/antrag-formular'`);
    expect(script).toContain(`OZG_SITE='a'\\''b'`);
  });

  it('write release metadata that sh can source back', () => {
    const metadata = renderReleaseMetadata({
      version: `1.0.0 $(nope) 'x"`,
      hash: 'abc',
      release: 'r1',
      hooks: { install: 'hooks/install.sh' },
    });
    const r = spawnSync('sh', ['-c', `${metadata}\nprintf '%s|%s|%s|%s' "$ozg_version" "$ozg_install_hook" "$ozg_activate_hook" "$ozg_identity"`], {
      encoding: 'utf8',
    });
    expect(r.stdout).toBe(`1.0.0 $(nope) 'x"|hooks/install.sh||"version":"1.0.0 $(nope) 'x\\"","hash":"abc","release":"r1"`);
  });

  it('format an identity that splices into a JSON object', () => {
    const identity = formatIdentity({ version: '1"2', hash: 'h', release: 'r' });
    expect(JSON.parse(`{${identity}}`)).toEqual({ version: '1"2', hash: 'h', release: 'r' });
  });

  it('parse the protocol lines and ignore everything else', () => {
    expect(parseScriptReport('ozg-step prepare\nozg-step extract\nnoise\nozg-step activate\nozg-reverted r1\n')).toEqual({
      step: 'activate',
      done: false,
      reverted: 'r1',
      revertFailed: false,
    });
    expect(parseScriptReport('ozg-step marker\nozg-live {"a":1}\nozg-step done\n')).toMatchObject({ step: 'marker', done: true, live: '{"a":1}' });
    expect(parseScriptReport('ozg-nothing no release is live\n')).toMatchObject({ nothing: 'no release is live' });
    expect(parseScriptReport('ozg-reverted\n').reverted).toBe('');
  });
});
