import type { EnvironmentName, Setup, Site } from '../inventory/types.js';
import type { Procedure } from '../procedure/types.js';

/** One site's use of one resolved procedure version: the unit the pipeline moves test → prod. */
export interface WorkItem {
  site: Site;
  setup: Setup;
  procedure: Procedure;
  /** site values merged over central defaults */
  values: Record<string, unknown>;
}

/** The address of one target: a site's procedure in one environment. */
export interface TargetKey {
  site: string;
  environment: EnvironmentName;
  procedure: string;
}
