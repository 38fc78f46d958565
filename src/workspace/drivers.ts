import type { EnvironmentName, Inventory, Site } from '../inventory/types.js';
import type { Reporter } from '../events.js';
import type { Clock } from '../clock.js';
import { UsageError } from '../errors.js';
import type { TargetDriver } from '../targets/driver.js';
import { createDriver, type CreateDriverOptions } from '../targets/create-driver.js';

export interface DriverPoolOptions {
  env: Record<string, string | undefined>;
  acceptNewHostKeys: boolean;
  reporter: Reporter;
  clock: Clock;
  /** the run's interrupt, handed to every driver (an SSH connect stops retrying once it is aborted) */
  signal?: AbortSignal;
  /** this run's id and the dead runs whose ledger lock it took over (see CreateDriverOptions) */
  run?: string;
  deadRuns?: readonly string[];
  /** extra options for every driver opened (the benchmark's transport-stats hook) */
  driverOptions?: Pick<CreateDriverOptions, 'onSshTransport'>;
}

export interface DriverPool {
  driver(site: Site, environment: EnvironmentName): Promise<TargetDriver>;
  /** starts closing a site's connections once its pipeline is done (closeAll waits for them) */
  closeSite(site: string): Promise<void>;
  closeAll(): Promise<void>;
}

/** One driver per site and environment, opened on first use. */
export function createDriverPool(inventory: Inventory, options: DriverPoolOptions): DriverPool {
  // by site, then environment: closing a site's drivers is one lookup, not a scan of every site's
  const drivers = new Map<string, Map<EnvironmentName, Promise<TargetDriver>>>();
  const stillClosing = new Set<Promise<void>>();
  const close = async (closing: Iterable<Promise<TargetDriver>>) => {
    const opened = await Promise.allSettled(closing);
    await Promise.allSettled(opened.map((d) => (d.status === 'fulfilled' ? d.value.close() : undefined)));
  };
  return {
    driver(site, environment) {
      let ofSite = drivers.get(site.name);
      let driver = ofSite?.get(environment);
      if (!driver) {
        const dc = inventory.dataCenters.get(site.dataCenter)!;
        const spec = dc.environments[environment];
        if (!spec) throw new UsageError(`data center ${dc.name} has no ${environment} environment`);
        driver = createDriver(dc, spec, site, {
          ...options.driverOptions,
          keepReleases: dc.keepReleases,
          env: options.env,
          acceptNewHostKeys: options.acceptNewHostKeys,
          onHostKeyRecorded: (recorded) => options.reporter.emit({ type: 'host-key-recorded', site: site.name, environment, ...recorded }),
          homeDir: options.env.HOME,
          clock: options.clock,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.run ? { run: options.run } : {}),
          ...(options.deadRuns ? { deadRuns: options.deadRuns } : {}),
        });
        if (!ofSite) drivers.set(site.name, (ofSite = new Map()));
        ofSite.set(environment, driver);
      }
      return driver;
    },
    async closeSite(site) {
      // hundreds of open SSH connections would otherwise live until the end of the run
      const closing = drivers.get(site);
      drivers.delete(site);
      if (!closing) return;
      // Not awaited here: a polite SSH close waits a round trip for the server, and the
      // site's slot would idle through it. closeAll waits for every close still going.
      const done = close(closing.values()).finally(() => stillClosing.delete(done));
      stillClosing.add(done);
    },
    async closeAll() {
      await close([...drivers.values()].flatMap((ofSite) => [...ofSite.values()]));
      await Promise.allSettled([...stillClosing]);
    },
  };
}
