/**
 * sites.yaml as written, after the schema check: the shape schemas/inventory.schema.json
 * guarantees. Only the loader sees these; everything else works on inventory/types.ts.
 */

export interface RawSecretRef {
  env?: string;
  file?: string;
}

export interface RawSetup {
  version?: string;
  values?: Record<string, unknown>;
  secrets?: Record<string, RawSecretRef>;
  userConnection?: Record<string, unknown>;
  processTransfers?: unknown[];
}

export interface RawEnvironment {
  root?: string;
  deployRoot?: string;
  ssh?: {
    user?: string;
    port?: number;
    identityFile?: string;
    knownHosts?: string;
    sudo?: boolean;
    bastion?: { host: string; port?: number; user?: string; identityFile?: string };
  };
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  smokeImage?: string;
  smokeStartupSeconds?: number;
  rolloutTimeoutSeconds?: number;
  concurrency?: number;
  confirm?: boolean;
}

export interface RawDataCenter {
  kind: 'local' | 'vm' | 'kubernetes';
  description?: string;
  keepReleases?: number;
  environments: { test: RawEnvironment; prod?: RawEnvironment };
}

export interface RawSite {
  dataCenter: string;
  labels?: Record<string, string>;
  hosts?: { test?: RawHost; prod?: RawHost };
  facts?: Record<string, unknown>;
  procedures?: Record<string, RawSetup>;
}

export interface RawInventory {
  catalogues?: string[];
  ledger?: string;
  concurrency?: number;
  defaults?: { procedures?: Record<string, RawSetup> };
  dataCenters: Record<string, RawDataCenter>;
  sites: Record<string, RawSite>;
}

/** A VM of one environment; `network` is cloud-init network-config for its seed. */
export interface RawHost {
  host: string;
  port?: number;
  network?: Record<string, unknown>;
}
