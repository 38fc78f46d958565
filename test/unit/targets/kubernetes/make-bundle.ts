/** Hand-made Kubernetes bundles for the driver tests: manifests as text, hashed like the renderer does. */
import { hashBundle } from '../../../../src/procedure/hash.js';
import type { Bundle } from '../../../../src/procedure/types.js';
import type { SmokeCheck } from '../../../../src/smoke/types.js';

export interface MakeBundleOptions {
  site?: string;
  environment?: 'test' | 'prod';
  procedure?: string;
  version?: string;
  smoke?: SmokeCheck[];
  /** paths of files holding secrets */
  sensitive?: string[];
}

export function makeBundle(files: Record<string, string>, options: MakeBundleOptions = {}): Bundle {
  const procedure = options.procedure ?? 'antrag-formular';
  const version = options.version ?? '1.0.0';
  const bundleFiles = Object.entries(files).map(([path, text]) => {
    const sensitive = options.sensitive?.includes(path) ?? false;
    return { path, content: Buffer.from(text, 'utf8'), mode: sensitive ? 0o600 : 0o644, sensitive };
  });
  const smoke = options.smoke ?? [];
  return {
    site: options.site ?? 'kiel',
    environment: options.environment ?? 'test',
    procedure,
    version,
    targetKind: 'kubernetes',
    files: bundleFiles,
    hooks: {},
    smoke,
    hash: hashBundle({ procedure, version, targetKind: 'kubernetes', files: bundleFiles, hooks: {}, smoke }),
  };
}

export const configMap = (name: string, data: Record<string, string> = { 'app.json': '{}' }): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n${Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n')}\n`;

export const secret = (name: string, value: string): string =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\ntype: Opaque\nstringData:\n  PASSWORD: ${JSON.stringify(value)}\n`;

export const deployment = (name: string, image: string, replicas = 1): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels:
    app.kubernetes.io/name: ${name}
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app.kubernetes.io/name: ${name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${name}
    spec:
      containers:
        - name: app
          image: ${image}
          ports:
            - name: http
              containerPort: 8080
`;

export const service = (name: string): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  selector:
    app.kubernetes.io/name: ${name}
  ports:
    - name: http
      port: 80
      targetPort: http
`;

/** An autoscaler of the Deployment `name`, which then scales it through the scale subresource. */
export const horizontalPodAutoscaler = (name: string): string => `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: ${name}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ${name}}
  minReplicas: 1
  maxReplicas: 5
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
`;
