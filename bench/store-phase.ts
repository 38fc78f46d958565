/**
 * One delivery of a release with a large artefact (a blob file with its sha256, as the artefact
 * cache hands it over) to every host through ozg's VM driver over its SSH transport (ozg's
 * dist/ build), in a fresh Node process of its own so its peak memory is ozg's. Per host: one
 * connection, the marker read that also asks the store which blobs it lacks, the apply that
 * streams only those. Request as JSON in argv[2], result as JSON on stdout.
 *
 *   cold:    nothing on the hosts yet: the artefact goes to every host
 *   upgrade: the same artefact, only the config file changed: the hosts' stores hold the artefact
 */
export interface StorePhaseRequest {
  hosts: Array<{ address: string; port: number }>;
  user: string;
  identityFile: string;
  knownHostsFile: string;
  root: string;
  parallel: number;
  blob: { path: string; sha256: string; size: number };
  /** the release's config text: a new one makes an upgrade */
  config: string;
  version: string;
}

export interface StorePhaseResult {
  wallMs: number;
  cpuMs: number;
  maxRssKb: number;
  failures: string[];
  /** per host: bytes the SSH transport sent (command text + stdin), connections, execs */
  transports: Array<{ bytesSent: number; connects: number; execs: number }>;
  statuses: Record<string, number>;
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '') as StorePhaseRequest;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const dist = new URL('../../dist/', import.meta.url);
  const load = <T>(file: string): Promise<T> => import(new URL(file, dist).href) as Promise<T>;
  const [{ createSshTransport }, { createVmDriver }, { createHash }] = await Promise.all([
    load<typeof import('../src/targets/ssh/ssh-transport.js')>('targets/ssh/ssh-transport.js'),
    load<typeof import('../src/targets/vm/vm-driver.js')>('targets/vm/vm-driver.js'),
    import('node:crypto'),
  ]);
  type Bundle = import('../src/procedure/types.js').Bundle;
  const files: Bundle['files'] = [
    { path: 'lib/app.jar', content: Buffer.alloc(0), blob: request.blob, mode: 0o644, sensitive: false },
    { path: 'config/app.conf', content: Buffer.from(request.config), mode: 0o644, sensitive: false },
  ];
  const bundle: Bundle = {
    site: 'bench',
    environment: 'test',
    procedure: 'bench-artefact',
    version: request.version,
    targetKind: 'vm',
    files,
    hooks: {},
    smoke: [],
    hash: createHash('sha256').update(request.blob.sha256).update(request.config).update(request.version).digest('hex'),
  };
  const release = `r-${request.version}`;

  const failures: string[] = [];
  const transports: StorePhaseResult['transports'] = [];
  const statuses: Record<string, number> = {};
  const deployTo = async (host: { address: string; port: number }): Promise<void> => {
    const transport = createSshTransport({
      host: host.address,
      port: host.port,
      user: request.user,
      identityFile: request.identityFile,
      knownHostsFile: request.knownHostsFile,
      acceptNewHostKeys: false,
      hashKnownHosts: async () => false,
      sudo: false,
    });
    const driver = createVmDriver({ transport, root: request.root, site: 'bench', environment: 'test', keepReleases: 3, description: host.address });
    try {
      await driver.live(bundle.procedure, bundle);
      const result = await driver.apply(bundle, release);
      statuses[result.status] = (statuses[result.status] ?? 0) + 1;
    } finally {
      await driver.close();
      transports.push({ ...transport.stats });
    }
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < request.hosts.length) {
      const host = request.hosts[next++]!;
      await deployTo(host).catch((error: Error) => failures.push(`${host.address}:${host.port}: ${error.message}`));
    }
  };
  await Promise.all(Array.from({ length: Math.min(request.parallel, request.hosts.length) }, worker));
  const cpu = process.cpuUsage(cpuStart);
  const result: StorePhaseResult = {
    wallMs: performance.now() - started,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssKb: process.resourceUsage().maxRSS,
    failures,
    transports,
    statuses,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`store-phase: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
