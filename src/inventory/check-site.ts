/**
 * Everything about one site, checked in one place: its data center, its hosts, its
 * namespaces and each of its setups. A site's problems never depend on another site's, so a
 * command can check only the sites it acts on.
 */
import type { Problem } from '../errors.js';
import { formatSuggestion } from '../input/suggest.js';
import { isRecord } from './merge-values.js';
import { report, startCheck } from './check-context.js';
import type { CheckContext, CheckInput } from './check-context.js';
import { checkSetup } from './check-setups.js';
import { checkSiteNamespaces } from './check-targets.js';
import type { DataCenter, ResolvedSetup, Site } from './types.js';

export interface CheckSiteResult {
  problems: Problem[];
  /** the site's setups that passed, in inventory order */
  resolved: ResolvedSetup[];
  /** `name@version` of every procedure version its setups resolved to */
  versions: string[];
}

export async function checkSite(input: CheckInput, site: Site): Promise<CheckSiteResult> {
  const context = startCheck(input);
  const dataCenter = checkSiteDataCenter(context, site);
  if (dataCenter) checkSiteNamespaces(context, site, dataCenter);
  const resolved: ResolvedSetup[] = [];
  if (input.checkSetups) {
    for (const setup of site.setups) {
      if (input.brokenDefaults.has(setup.procedure)) continue;
      const item = await checkSetup(context, site, setup, dataCenter);
      if (item) resolved.push(item);
    }
  }
  return { problems: context.problems, resolved, versions: [...context.versionsUsed] };
}

/** The site's data center, or undefined (reported, or broken and reported by the schema). */
function checkSiteDataCenter(context: CheckContext, site: Site): DataCenter | undefined {
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
