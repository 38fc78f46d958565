/** Site rules that need more than the schema: the data center exists and hosts fit its kind. */
import { formatSuggestion } from '../input/suggest.js';
import { isRecord } from './merge-values.js';
import { report } from './check-context.js';
import type { CheckContext } from './check-context.js';
import type { DataCenter, Site } from './types.js';

/** The site's data center, or undefined (reported, or broken and reported by the schema). */
export function checkSiteDataCenter(context: CheckContext, site: Site): DataCenter | undefined {
  const defined = isRecord(context.raw.dataCenters) ? Object.keys(context.raw.dataCenters) : [];
  if (!defined.includes(site.dataCenter)) {
    const known = defined.length > 0 ? `defined: ${defined.join(', ')}` : 'no data centers are defined';
    report(context, ['sites', site.name, 'dataCenter'], `unknown data center "${site.dataCenter}" (${known})${formatSuggestion(site.dataCenter, defined)}`);
    return undefined;
  }
  const dataCenter = context.inventory.dataCenters.get(site.dataCenter);
  if (dataCenter) checkHosts(context, site, dataCenter);
  return dataCenter;
}

function checkHosts(context: CheckContext, site: Site, dataCenter: DataCenter): void {
  const sitePath = ['sites', site.name];
  if (dataCenter.kind !== 'vm') {
    if (site.hosts) {
      report(context, [...sitePath, 'hosts'], `hosts apply only to sites in vm data centers (${dataCenter.name} is of kind ${dataCenter.kind})`, {
        path: [...sitePath, 'hosts'],
        side: 'key',
      });
    }
    return;
  }
  if (!site.hosts) {
    report(context, [...sitePath, 'hosts'], `missing required field "hosts": data center ${dataCenter.name} is of kind vm, so the site needs a host per environment`, {
      path: sitePath,
      side: 'key',
    });
    return;
  }
  if (dataCenter.environments.prod && !site.hosts.prod) {
    report(context, [...sitePath, 'hosts', 'prod'], `missing required field "prod": data center ${dataCenter.name} has a prod environment`, {
      path: [...sitePath, 'hosts'],
      side: 'key',
    });
  }
  if (!dataCenter.environments.prod && site.hosts.prod) {
    report(context, [...sitePath, 'hosts', 'prod'], `data center ${dataCenter.name} has no prod environment`, { path: [...sitePath, 'hosts', 'prod'], side: 'key' });
  }
}
