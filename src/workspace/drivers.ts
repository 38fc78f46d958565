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
  /** this run's id and the dead runs whose ledger lock it took over (see CreateDriverOptions) */
  run?: string;
  deadRuns?: readonly string[];
  /** extra options for every driver opened (the benchmark's transport-stats hook) */
  driverOptions?: Pick<CreateDriverOptions, 'onSshTransport'>;
}

export interface DriverPool {
  driver(site: Site, environment: EnvironmentName): Promise<TargetDriver>;
  /** closes a site's connections once its pipeline is done */
  closeSite(site: string): Promise<void>;
  closeAll(): Promise<void>;
}

/** One driver per site and environment, opened on first use. */
export function createDriverPool(inventory: Inventory, options: DriverPoolOptions): DriverPool {
  const drivers = new Map<string, Promise<TargetDriver>>();
  const close = async (closing: Iterable<Promise<TargetDriver>>) => {
    const opened = await Promise.allSettled(closing);
    await Promise.allSettled(opened.map((d) => (d.status === 'fulfilled' ? d.value.close() : undefined)));
  };
  return {
    driver(site, environment) {
      const key = `${site.name}\0${environment}`;
      let driver = drivers.get(key);
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
          ...(options.run ? { run: options.run } : {}),
          ...(options.deadRuns ? { deadRuns: options.deadRuns } : {}),
        });
        drivers.set(key, driver);
      }
      return driver;
    },
    async closeSite(site) {
      // hundreds of open SSH connections would otherwise live until the end of the run
      const closing: Promise<TargetDriver>[] = [];
      for (const [key, driver] of drivers) {
        if (!key.startsWith(`${site}\0`)) continue;
        drivers.delete(key);
        closing.push(driver);
      }
      await close(closing);
    },
    async closeAll() {
      await close(drivers.values());
    },
  };
}
