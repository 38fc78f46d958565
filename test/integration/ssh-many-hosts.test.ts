import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { quoteShell } from '../../src/shell-quote.js';
import { VM_DEPLOY_ROOT } from '../helpers/sshd-harness.js';
import { useSshHosts } from '../helpers/ssh-test-hosts.js';

const vms = useSshHosts(20, { transport: { connectTimeoutMs: 10_000 } });

it('gives each of 20 hosts reached in parallel its own deploy root', async () => {
  expect(new Set(vms.hosts.map((h) => h.address)).size).toBe(20);
  const transports = vms.hosts.map((host) => vms.connect(host));
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
