import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BODY_MARKER, buildSmokeJob, buildWgetScript, createSmokeJobName, parseWgetLog, SMOKE_CONTAINER, smokeTargetsOf } from '../../../../src/targets/kubernetes/smoke-job.js';
import { LABELS } from '../../../../src/targets/kubernetes/manifests.js';

const base = { namespace: 'ozg-kiel-test', site: 'kiel', environment: 'test', procedure: 'antrag-formular', image: 'busybox:1.36', startupSeconds: 60 };

describe('smoke checks on Kubernetes', () => {
  it('run HTTP checks everywhere, command checks on VMs unless they say otherwise', () => {
    expect(smokeTargetsOf({ name: 'h', http: { url: 'http://x/' } })).toEqual(['vm', 'kubernetes']);
    expect(smokeTargetsOf({ name: 'c', command: 'sh hooks/check.sh' })).toEqual(['vm']);
    expect(smokeTargetsOf({ name: 'c', command: 'true', targets: ['kubernetes'] })).toEqual(['kubernetes']);
  });

  it('name Jobs within 63 characters', () => {
    expect(createSmokeJobName('antrag-formular', 'abc123')).toBe('ozg-smoke-antrag-formular-abc123');
    const long = createSmokeJobName('a'.repeat(63));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^ozg-smoke-a+-[a-z0-9]{6}$/);
  });

  it('build a restricted, self-cleaning Job that runs the command through sh -c', () => {
    const job = buildSmokeJob({ ...base, name: 'ozg-smoke-antrag-formular-abc123', check: { name: 'db reachable', command: 'nc -z db 5432 && echo "it\'s up"', timeoutSeconds: 5, targets: ['kubernetes'] } });
    expect(job.metadata).toMatchObject({ name: 'ozg-smoke-antrag-formular-abc123', namespace: 'ozg-kiel-test', labels: { [LABELS.smoke]: 'check', [LABELS.procedure]: 'antrag-formular' } });
    const spec = job.spec as { backoffLimit: number; activeDeadlineSeconds: number; ttlSecondsAfterFinished: number; template: { spec: Record<string, any> } };
    expect(spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 65, ttlSecondsAfterFinished: 3600 });
    const pod = spec.template.spec;
    expect(pod).toMatchObject({ restartPolicy: 'Never', automountServiceAccountToken: false, securityContext: { runAsNonRoot: true } });
    expect(pod.containers[0].command).toEqual(['sh', '-c', 'nc -z db 5432 && echo "it\'s up"']);
    expect(pod.containers[0].env).toEqual(expect.arrayContaining([{ name: 'OZG_NAMESPACE', value: 'ozg-kiel-test' }]));
    expect(pod.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });

  it('opt the pod out of Istio’s and Linkerd’s sidecar injection, and name its one container `check`', () => {
    const job = buildSmokeJob({ ...base, name: 'j', check: { name: 'health', http: { url: 'http://antrag-formular/', status: 200 } } });
    const template = (job.spec as any).template;
    expect(template.metadata.annotations).toEqual({ 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' });
    expect(template.spec.containers.map((c: { name: string }) => c.name)).toEqual([SMOKE_CONTAINER]);
    expect(SMOKE_CONTAINER).toBe('check');
  });

  it('hand an HTTP check’s URL to wget through the environment, never through the shell', () => {
    const url = "http://antrag-formular/health?q=$(reboot)&x='y'";
    const job = buildSmokeJob({ ...base, name: 'j', check: { name: 'health', http: { url, status: 200 } } });
    const container = (job.spec as any).template.spec.containers[0];
    expect(container.command).toEqual(['sh', '-c', buildWgetScript()]);
    expect(container.env).toEqual(expect.arrayContaining([{ name: 'OZG_URL', value: url }, { name: 'OZG_TIMEOUT', value: '10' }]));
    expect(buildWgetScript()).not.toContain(url);
  });

  it('read busybox wget output: status line, body, and complaints when nothing answered', () => {
    const ok = `  HTTP/1.1 302 Found\n  Location: /health/\n  HTTP/1.1 200 OK\n  Content-Type: text/plain\n--- ozg: wget exit 0 ---\n${BODY_MARKER}\nstatus: ok\n  HTTP/1.1 500 in the body\n`;
    expect(parseWgetLog(ok)).toEqual({ status: 200, body: 'status: ok\n  HTTP/1.1 500 in the body\n' });
    const error = `  HTTP/1.1 503 Service Unavailable\nwget: server returned error: HTTP/1.1 503 Service Unavailable\n--- ozg: wget exit 1 ---\n${BODY_MARKER}\n`;
    expect(parseWgetLog(error)).toEqual({ status: 503, body: '' });
    const refused = `wget: can't connect to remote host (10.0.0.1): Connection refused\n--- ozg: wget exit 1 ---\n${BODY_MARKER}\n`;
    expect(parseWgetLog(refused)).toEqual({ body: '', error: "wget: can't connect to remote host (10.0.0.1): Connection refused" });
    expect(parseWgetLog('sh: wget: not found\n')).toEqual({ body: '', error: 'sh: wget: not found' });
    expect(parseWgetLog('something else entirely\n').error).toMatch(/printed no wget result/);
  });

  it('has a wget script that is valid sh and prints headers, marker and body in order', () => {
    // A stand-in `wget` on PATH: the script must pass the URL through untouched and keep the streams apart.
    const dir = mkdtempSync(join(tmpdir(), 'ozg-wget-'));
    try {
      writeFileSync(join(dir, 'wget'), '#!/bin/sh\nfor a; do last=$a; done\necho "  HTTP/1.1 200 OK" >&2\nprintf "url=%s" "$last" >"$TMPDIR/ozg-body"\n', { mode: 0o755 });
      const r = spawnSync('sh', ['-c', buildWgetScript()], { env: { PATH: `${dir}:/usr/bin:/bin`, TMPDIR: dir, OZG_URL: "http://x/?a=$(id)'", OZG_TIMEOUT: '3' }, encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(parseWgetLog(r.stdout)).toEqual({ status: 200, body: "url=http://x/?a=$(id)'" });
      expect(readFileSync(join(dir, 'ozg-headers'), 'utf8')).toContain('HTTP/1.1 200 OK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
