import { stringify } from 'yaml';

export interface RenderKubeconfigInput {
  server: string;
  /** PEM of the CA to trust; omitted with insecureSkipTlsVerify or to use the system roots */
  caPem?: string;
  insecureSkipTlsVerify?: boolean;
  userName: string;
  token: string;
  namespace?: string;
  clusterName: string;
  contextName: string;
}

/** A kubeconfig with one cluster, one token user and one context, the current one. */
export function renderKubeconfig(input: RenderKubeconfigInput): string {
  const cluster: Record<string, unknown> = { server: input.server };
  if (input.caPem) cluster['certificate-authority-data'] = Buffer.from(input.caPem).toString('base64');
  if (input.insecureSkipTlsVerify) cluster['insecure-skip-tls-verify'] = true;
  // kubeconfig user entries are names, not identities; keep them simple
  const userEntry = input.userName.replace(/[^A-Za-z0-9._-]/g, '-');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: input.clusterName, cluster }],
    users: [{ name: userEntry, user: { token: input.token } }],
    contexts: [{ name: input.contextName, context: { cluster: input.clusterName, user: userEntry, ...(input.namespace ? { namespace: input.namespace } : {}) } }],
    'current-context': input.contextName,
    preferences: {},
  });
}
