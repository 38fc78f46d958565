/**
 * The same deploy as an Ansible playbook (Debian's `ansible`), for comparison: same hosts,
 * same files, same parallelism (forks), pipelining on, ControlPersist on, no fact gathering.
 * Test hosts first, then prod, as ozg does. Ansible lands in <deploy root>/ansible/ so it
 * never touches what ozg deployed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile, appendFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { VM_DEPLOY_ROOT, type SshHosts } from '../test/helpers/sshd-harness.js';

export const ANSIBLE_INSTALL_STEP = 'apt-get install -y ansible';

export interface AnsibleRun {
  wallMs: number;
  ok: boolean;
  /** the PLAY RECAP lines, or the log's tail when the run failed */
  summary: string;
}

export interface RunAnsibleOptions {
  dir: string;
  vms: SshHosts;
  siteNames: string[];
  assetFile: string;
  forks: number;
  /** children started here, so the caller can kill them by pid on a signal */
  children: Set<ChildProcess>;
}

/** Path of ansible-playbook, or undefined when it is not installed. */
export async function findAnsiblePlaybook(): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('sh', ['-c', 'command -v ansible-playbook']);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function prepareAnsible(options: RunAnsibleOptions): Promise<{ run(label: string): Promise<AnsibleRun>; closeMasters(): Promise<void> }> {
  const { dir, vms } = options;
  await mkdir(path.join(dir, 'cp'), { recursive: true, mode: 0o700 });
  await mkdir(path.join(dir, 'templates'), { recursive: true });
  const logFile = path.join(dir, 'ansible.log');
  const controlPath = path.join(dir, 'cp', '%C');
  const sshArgs = `-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${vms.knownHostsFile} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`;
  await writeFile(
    path.join(dir, 'ansible.cfg'),
    [
      '[defaults]',
      `forks = ${options.forks}`,
      'gathering = explicit',
      'host_key_checking = True',
      'retry_files_enabled = False',
      'interpreter_python = /usr/bin/python3',
      `local_tmp = ${path.join(dir, 'local-tmp')}`,
      '',
      '[ssh_connection]',
      'pipelining = True',
      `ssh_args = ${sshArgs}`,
      // ansible.cfg is read with %-interpolation: %% is one %
      `control_path = ${controlPath.replace(/%/g, '%%')}`,
      '',
    ].join('\n'),
  );

  const hostsOf = (env: 'test' | 'prod'): Record<string, Record<string, unknown>> =>
    Object.fromEntries(
      options.siteNames.map((site, i) => {
        const host = vms.hosts[2 * i + (env === 'test' ? 0 : 1)]!;
        const key = String(1_001_000 + i).padStart(8, '0');
        return [
          `${site}-${env}`,
          { ansible_host: host.address, ansible_port: host.port, site, ozg_env: env, municipality_key: key, title: `Gemeinde ${site}`, domain: `${site}.bench.example` },
        ];
      }),
    );
  await writeFile(
    path.join(dir, 'inventory.yml'),
    YAML.stringify({
      all: {
        vars: { ansible_user: vms.user, ansible_ssh_private_key_file: vms.identityFile },
        children: { test: { hosts: hostsOf('test') }, prod: { hosts: hostsOf('prod') } },
      },
    }),
  );

  await writeFile(
    path.join(dir, 'templates', 'site.json.j2'),
    `{
  "site": {{ site | to_json }},
  "environment": {{ ozg_env | to_json }},
  "version": "1.0.0",
  "title": {{ title | to_json }},
  "municipalityKey": {{ municipality_key | to_json }},
  "domain": {{ domain | to_json }},
  "listen": { "port": 8080 },
  "assets": "public/app.js"
}
`,
  );
  await writeFile(
    path.join(dir, 'templates', 'install.sh.j2'),
    `#!/bin/sh
set -eu
site={{ site | quote }}
[ -s public/app.js ] || { echo "install: public/app.js is missing" >&2; exit 1; }
grep -q '"municipalityKey"' config/site.json || { echo "install: config/site.json is incomplete" >&2; exit 1; }
mkdir -p state
printf '%s\\n' "r1" >state/installed
echo "install: bench-app ready for $site"
`,
  );
  await writeFile(
    path.join(dir, 'templates', 'check.sh.j2'),
    `#!/bin/sh
set -eu
[ -f state/installed ] || { echo "check: install hook has not completed"; exit 1; }
grep -q {{ municipality_key | quote }} config/site.json || { echo "check: wrong municipalityKey"; exit 1; }
echo "bench-app 1.0.0 ok"
`,
  );
  const rel = `{{ target }}/releases/r1`;
  const tasks = [
    { name: 'release directories', 'ansible.builtin.file': { path: `${rel}/{{ item }}`, state: 'directory', mode: '0755' }, loop: ['public', 'config', 'hooks'] },
    { name: 'asset', 'ansible.builtin.copy': { src: options.assetFile, dest: `${rel}/public/app.js`, mode: '0644' } },
    { name: 'site config', 'ansible.builtin.template': { src: 'templates/site.json.j2', dest: `${rel}/config/site.json`, mode: '0644' } },
    { name: 'install hook', 'ansible.builtin.template': { src: 'templates/install.sh.j2', dest: `${rel}/hooks/install.sh`, mode: '0755' } },
    { name: 'smoke script', 'ansible.builtin.template': { src: 'templates/check.sh.j2', dest: `${rel}/hooks/check.sh`, mode: '0755' } },
    { name: 'run the install hook', 'ansible.builtin.command': { cmd: 'sh hooks/install.sh', chdir: rel, creates: `${rel}/state/installed` } },
    { name: 'switch current', 'ansible.builtin.file': { src: 'releases/r1', dest: '{{ target }}/current', state: 'link' }, register: 'switched' },
    { name: 'marker', 'ansible.builtin.copy': { content: '{"procedure":"bench-app","version":"1.0.0","release":"r1"}\n', dest: '{{ target }}/release.json', mode: '0644' } },
    { name: 'smoke', 'ansible.builtin.command': { cmd: 'sh hooks/check.sh', chdir: '{{ target }}/current' }, when: 'switched is changed', changed_when: false },
  ];
  const play = (env: 'test' | 'prod') => ({
    name: `bench-app to ${env}`,
    hosts: env,
    gather_facts: false,
    vars: { target: `${VM_DEPLOY_ROOT}/ansible/{{ site }}/bench-app` },
    tasks,
  });
  await writeFile(path.join(dir, 'playbook.yml'), YAML.stringify([play('test'), play('prod')]));

  const env = { ...process.env, ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0' };
  return {
    async run(label) {
      await appendFile(logFile, `\n===== ${label} =====\n`);
      const started = performance.now();
      const { code, output } = await runLogged('ansible-playbook', ['-i', 'inventory.yml', 'playbook.yml'], { cwd: dir, env }, options.children);
      const wallMs = performance.now() - started;
      await appendFile(logFile, output);
      const recap = output.slice(output.lastIndexOf('PLAY RECAP'));
      const ok = code === 0 && /PLAY RECAP/.test(output) && !/(unreachable|failed)=[1-9]/.test(recap);
      return { wallMs, ok, summary: ok ? recap.trim() : output.trim().split('\n').slice(-25).join('\n') };
    },
    // ControlPersist leaves one ssh master per host running; end them now rather than in 60 s.
    async closeMasters() {
      await Promise.all(
        vms.hosts.map((host) =>
          runLogged('ssh', ['-o', `ControlPath=${controlPath}`, '-O', 'exit', '-p', String(host.port), `${vms.user}@${host.address}`], { cwd: dir, env }, options.children).catch(
            () => undefined,
          ),
        ),
      );
    },
  };
}

function runLogged(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
  children: Set<ChildProcess>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', (error) => {
      children.delete(child);
      reject(error);
    });
    child.once('close', (code) => {
      children.delete(child);
      resolve({ code, output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}
