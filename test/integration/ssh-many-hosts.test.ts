import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSshTransport, type SshTransport } from '../../src/targets/ssh/ssh-transport.js';
import { quoteShell } from '../../src/shell-quote.js';
import { VM_DEPLOY_ROOT, startSshHosts, type SshHosts } from '../helpers/sshd-harness.js';

let vms: SshHosts;
let transports: SshTransport[] = [];

beforeAll(async () => {
  vms = await startSshHosts(20);
}, 30_000);
afterAll(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await vms?.stop();
});

it('gives each of 20 hosts reached in parallel its own deploy root', async () => {
  expect(new Set(vms.hosts.map((h) => h.address)).size).toBe(20);
  transports = vms.hosts.map((host) =>
    createSshTransport({
      host: host.address,
      port: host.port,
      user: vms.user,
      identityFile: vms.identityFile,
      knownHostsFile: vms.knownHostsFile,
      acceptNewHostKeys: false,
      sudo: false,
      connectTimeoutMs: 10_000,
    }),
  );
  const results = await Promise.all(
    transports.map((t, i) =>
      t.exec(`printf %s ${quoteShell(`host-${i}`)} > ${VM_DEPLOY_ROOT}/who && ls ${VM_DEPLOY_ROOT} && cat ${VM_DEPLOY_ROOT}/who`),
    ),
  );
  // each host sees only its own file, and it lands in that host's directory on this machine
  results.forEach((r, i) => expect(r).toMatchObject({ exitCode: 0, stdout: `who\nhost-${i}` }));
  const onDisk = await Promise.all(vms.hosts.map((h) => readFile(path.join(h.root, 'who'), 'utf8')));
  expect(onDisk).toEqual(vms.hosts.map((_, i) => `host-${i}`));
  expect(transports.map((t) => t.stats.connects)).toEqual(Array(20).fill(1));
});
