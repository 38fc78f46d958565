import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { EnvironmentName, Inventory, ResolvedSetup } from '../inventory/types.js';
import type { Bundle } from '../procedure/types.js';
import { resolveSecret } from '../inventory/secrets.js';
import type { SecretRedactor } from '../inventory/secret-redactor.js';
import type { ArtifactCache } from '../procedure/artifact-cache.js';
import { renderBundle } from '../procedure/render.js';
import { createHelmLocator } from '../procedure/helm-tool.js';
import { checkBundleForTarget } from '../targets/create-driver.js';

export interface BundleCache {
  render(item: ResolvedSetup, environment: EnvironmentName, options?: RenderBundleOptions): Promise<Bundle>;
  learnSecrets(item: ResolvedSetup): Promise<void>;
  /** drops a site's rendered bundles once its pipeline is done */
  dropSite(site: string): void;
}

export interface RenderBundleOptions {
  redactSecrets?: boolean;
  /**
   * false: the bundle is not kept for a later call (validate, plan and status look at each
   * bundle once; keeping 29,000 of them cost more memory than rendering them)
   */
  keep?: boolean;
}

/**
 * Renders each item's bundle once per run and checks it against its target; resolves each
 * secret once and teaches the redactor its value.
 */
export function createBundleCache(inventory: Inventory, env: Record<string, string | undefined>, redactor: SecretRedactor, artifacts: ArtifactCache): BundleCache {
  const secretCache = new Map<string, Promise<string>>();
  // by site, then by procedure, version, environment and redaction: dropping a site's bundles is one delete, not a scan of every site's
  const bundles = new Map<string, Map<string, Promise<Bundle>>>();
  // helm is looked for only when a chart procedure renders, once per run
  const helm = createHelmLocator({ env });

  const resolveItemSecrets = async (item: ResolvedSetup): Promise<Record<string, string>> => {
    const secrets: Record<string, string> = {};
    for (const [name, ref] of Object.entries(item.setup.secrets)) {
      const key = JSON.stringify(ref);
      let value = secretCache.get(key);
      if (!value) secretCache.set(key, (value = resolveSecret(ref, { env, readFile: (p) => readFile(p, 'utf8'), baseDir: inventory.dir })));
      secrets[name] = await value;
      redactor.add(name, secrets[name]);
    }
    return secrets;
  };

  const renderChecked = async (item: ResolvedSetup, environment: EnvironmentName, redactSecrets: boolean): Promise<Bundle> => {
    const dc = inventory.dataCenters.get(item.site.dataCenter)!;
    const secrets = redactSecrets ? {} : await resolveItemSecrets(item);
    const spec = dc.environments[environment];
    const chart = dc.kind === 'kubernetes' && item.procedure.kubernetes?.chart !== undefined && spec
      ? { namespace: (await import('../targets/kubernetes/kube-target.js')).resolveNamespace(dc, spec, item.site), helm }
      : undefined;
    const targetKind = dc.kind === 'kubernetes' ? 'kubernetes' : 'vm';
    // artefacts go to VM and local targets only; a Kubernetes bundle never waits for them
    const blobs = targetKind === 'vm' && (item.procedure.artifacts ?? []).length > 0 ? await artifacts.resolve(item.procedure) : undefined;
    const bundle = await renderBundle({
      ...(chart ? { chart } : {}),
      procedure: item.procedure,
      site: item.site,
      setup: item.setup,
      environment,
      targetKind,
      values: item.values,
      secrets,
      redactSecrets,
      ...(blobs ? { artifacts: blobs } : {}),
    });
    const filesDir = item.procedure.vm?.files ?? '';
    // named as render errors name template files: <procedure>/<version>/<vm.files>/<path>
    const describeFile = (file: string): string => posix.join(item.procedure.name, item.procedure.version, filesDir, file);
    if (spec) await checkBundleForTarget(dc, spec, item.site, bundle, { describeFile });
    return bundle;
  };

  return {
    render(item, environment, options = {}) {
      const key = [item.procedure.name, item.procedure.version, environment, Boolean(options.redactSecrets)].join('\0');
      const ofSite = bundles.get(item.site.name);
      let bundle = ofSite?.get(key);
      if (!bundle && options.keep === false) return renderChecked(item, environment, Boolean(options.redactSecrets));
      if (!bundle) {
        const kept = ofSite ?? new Map<string, Promise<Bundle>>();
        if (!ofSite) bundles.set(item.site.name, kept);
        bundle = renderChecked(item, environment, Boolean(options.redactSecrets));
        kept.set(key, bundle);
        // a failed render is not kept: the caller reports it, and a retry renders afresh
        bundle.catch(() => kept.delete(key));
      }
      return bundle;
    },
    async learnSecrets(item) {
      await resolveItemSecrets(item);
    },
    dropSite(site) {
      bundles.delete(site);
    },
  };
}
