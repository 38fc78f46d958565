/** The validated, in-memory form of sites.yaml. Paths are absolute. */

import type { Procedure } from '../procedure/types.js';

export type EnvironmentName = 'test' | 'prod';
export const ENVIRONMENTS: readonly EnvironmentName[] = ['test', 'prod'];

export type DataCenterKind = 'local' | 'vm' | 'kubernetes';

/** Where one secret value comes from. The value itself is never stored in the inventory. */
export type SecretRef = { env: string } | { file: string };

/** One environment (test or prod) of a data center. */
export interface EnvironmentSpec {
  name: EnvironmentName;
  /** local: directory under which every site gets `<root>/<site>/` (absolute). */
  root?: string;
  /** vm: defaults for every host of this environment. */
  ssh?: {
    user?: string;
    port?: number;
    identityFile?: string;
    knownHosts?: string;
    sudo?: boolean;
    bastion?: { host: string; port?: number; user?: string; identityFile?: string };
  };
  /** vm: directory on the host under which procedures live (default /opt/ozg). */
  deployRoot?: string;
  /** kubernetes: kubeconfig path, context and the namespace pattern (`{site}` is replaced). */
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** kubernetes: image of smoke check Jobs when a check names none (default busybox:1.36) */
  smokeImage?: string;
  /**
   * kubernetes: seconds a smoke Job's pod may take to be scheduled and pull its image, on top of
   * the check's own timeout (default 120); also how long a Job whose pod the API refuses is waited for
   */
  smokeStartupSeconds?: number;
  /**
   * kubernetes: how long Deployments and StatefulSets may take to roll out, and a deploy or
   * rollback waits for an object of its bundle that is still being deleted (default 300)
   */
  rolloutTimeoutSeconds?: number;
  /** at most this many targets of this environment at once */
  concurrency?: number;
  /** deploying here asks for confirmation on a terminal, and needs --yes without one */
  confirm?: boolean;
}

/** A data center: an operator offering one kind of target, with a test and a prod environment. */
export interface DataCenter {
  name: string;
  kind: DataCenterKind;
  environments: { test: EnvironmentSpec; prod?: EnvironmentSpec };
  /** how many releases a target keeps for rollback */
  keepReleases: number;
}

/** One site's use of one procedure. */
export interface Setup {
  procedure: string;
  /** exact version or semver range, as written (site choice over central default) */
  version: string;
  values: Record<string, unknown>;
  /** secret name (as the procedure declares it) → where its value comes from */
  secrets: Record<string, SecretRef>;
  userConnection?: Record<string, unknown>;
  processTransfers?: unknown[];
}

/** A site: one municipality (tenant), hosted in one data center. */
export interface Site {
  name: string;
  labels: Record<string, string>;
  dataCenter: string;
  /** vm: host (and optional port) per environment */
  hosts?: Partial<Record<EnvironmentName, { host: string; port?: number; network?: Record<string, unknown> }>>;
  /** site data used to fill site-specific fields when cloning (municipality key, domain, contact) */
  facts: Record<string, unknown>;
  setups: Setup[];
}

export interface Inventory {
  /** absolute path of sites.yaml */
  file: string;
  /** directory holding sites.yaml; relative paths in it resolve from here */
  dir: string;
  /** absolute directories of procedure catalogues, in order */
  catalogues: string[];
  /** absolute directory of the ledger (default `<dir>/.ozg`) */
  ledgerDir: string;
  /** overall concurrency default (flag wins) */
  concurrency: number;
  dataCenters: Map<string, DataCenter>;
  sites: Site[];
}

/** One site's setup bound to the exact procedure version it resolves to: the unit a rollout moves test → prod. */
export interface ResolvedSetup {
  site: Site;
  /** as in the inventory: `version` is the version or range as written */
  setup: Setup;
  /** the newest catalogue version matching setup.version */
  procedure: Procedure;
  /** site values merged over central defaults (schema defaults are the renderer's job) */
  values: Record<string, unknown>;
}
