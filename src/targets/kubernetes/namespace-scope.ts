import type { EnvironmentName } from '../../inventory/types.js';
import type { KubeClient } from './kube-client.js';

/** One site's namespace in one environment, as the parts of the Kubernetes driver reach it. */
export interface NamespaceScope {
  /** the API client, bound to the namespace (`client.namespace`) */
  client: KubeClient;
  site: string;
  environment: EnvironmentName;
}

/** How a wait polls: Deployments and StatefulSets rolling out, smoke Jobs finishing. */
export interface Polling {
  pollIntervalMs: number;
  sleep: (ms: number) => Promise<void>;
  /** wall clock in ms: deadlines and durations */
  clock: () => number;
}
