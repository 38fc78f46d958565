import type { SmokeCheck } from '../smoke/types.js';

/** A loaded procedure template: one version of one procedure from a catalogue. */
export interface Procedure {
  name: string;
  version: string;
  description: string;
  /** absolute directory holding procedure.yaml */
  dir: string;
  /** absolute path of procedure.yaml (for error messages) */
  file: string;
  /** JSON Schema the site values must satisfy */
  valuesSchema: Record<string, unknown>;
  /** names of secrets a site must supply */
  secrets: string[];
  /** VM (and local) target: file templates and hook scripts, relative to dir */
  vm?: {
    /** directory of templates rendered into the release (relative to dir) */
    files: string;
    /** directory of files copied byte for byte, never rendered (relative to dir) */
    static?: string;
    hooks: { install?: string; activate?: string };
    /** cloud-init user-data fragment template (issue 3) */
    cloudInit?: string;
  };
  /**
   * Kubernetes target: a directory of manifest templates, or a Helm chart (a folder or `.tgz`)
   * with a values template; paths relative to dir. Exactly one of manifests and chart.
   */
  kubernetes?: { manifests: string; chart?: undefined } | KubernetesChart;
  /** smoke check templates; rendered per site like the files */
  smoke: SmokeCheck[];
  /** files fetched once into the ozg machine's cache and shipped to VM and local targets */
  artifacts?: ProcedureArtifact[];
}

/** One `artifacts:` entry of procedure.yaml: bytes named by their sha256, from a URL or a file. */
export interface ProcedureArtifact {
  name: string;
  /** expected sha256, lowercase hex */
  sha256: string;
  source: { url: string } | { path: string };
  /** release-relative path; default `artifacts/<name>` */
  dest: string;
  mode: number;
  /** where the entry's sha256 stands in procedure.yaml, for a checksum problem */
  at: { file: string; line: number; col: number; path: string };
}

/** A procedure's Kubernetes part as a Helm chart, rendered by `helm template` (docs/procedure-format.md). */
export interface KubernetesChart {
  manifests?: undefined;
  /** chart folder or packaged `.tgz`, relative to the procedure dir */
  chart: string;
  /** Liquid template of the chart's values file, relative to the procedure dir */
  values?: string;
}

/** Every procedure version from every catalogue the inventory names. */
export interface Catalogue {
  /** procedure name → versions, newest first */
  versions(procedure: string): string[];
  get(procedure: string, version: string): Procedure | undefined;
  names(): string[];
}

/**
 * Bytes that stay in a file on the ozg machine (an artefact in the content-addressed cache, a
 * large static file of the catalogue) and are streamed from there to every target, so 100
 * targets × 50 MB never means 5 GB in memory (issue 12).
 */
export interface BlobSource {
  /** sha256 of the bytes, hex; verified when the blob entered the cache */
  sha256: string;
  size: number;
  /** absolute path of the verified bytes on the ozg machine */
  path: string;
}

/** One rendered file of a bundle, path relative to the release directory. */
export interface BundleFile {
  path: string;
  /** the bytes; empty when `blob` is set (then the bytes are read from the blob's path) */
  content: Buffer;
  /** set for files whose bytes are streamed from a file instead of held in memory */
  blob?: BlobSource;
  /** octal file mode, e.g. 0o644; scripts 0o755; files holding secrets 0o600 */
  mode: number;
  /** true when a secret value was rendered into it: never shown, diffed or written by `render` */
  sensitive: boolean;
}

/** A rendered setup for one target: files and/or manifests plus a content hash. */
export interface Bundle {
  site: string;
  environment: 'test' | 'prod';
  procedure: string;
  version: string;
  targetKind: 'vm' | 'kubernetes';
  files: BundleFile[];
  /** release-relative paths of hook scripts present in files */
  hooks: { install?: string; activate?: string };
  /** rendered smoke checks */
  smoke: SmokeCheck[];
  /** sha256 over everything above (secrets included, so a changed secret redeploys), hex */
  hash: string;
}
