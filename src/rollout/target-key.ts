import type { EnvironmentName } from '../inventory/types.js';

/** The address of one target: a site's procedure in one environment. */
export interface TargetKey {
  site: string;
  environment: EnvironmentName;
  procedure: string;
}
