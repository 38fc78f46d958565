/**
 * A local HTTPS Kubernetes API server for tests, honest enough that the real kubectl and
 * @kubernetes/client-node work against it. In-process (node:https), listening on 127.0.0.1 on
 * a random port with a certificate from a CA it makes itself (openssl CLI). Checked with
 * kubectl 1.20 (Debian), 1.27, 1.32 and 1.33, and with @kubernetes/client-node 1.3.
 *
 * Implemented
 * - Discovery (/version, /api, /apis, /api/v1, /apis/<group>[/<version>]; legacy, not
 *   aggregated) and minimal OpenAPI documents without schemas: /openapi/v3 (enough for
 *   kubectl 1.26+ to use server-side field validation) and /openapi/v2 as gnostic protobuf
 *   (enough for older kubectl's dry-run check; its client-side validation finds no schema
 *   and skips).
 * - Types: core v1 namespaces, nodes, configmaps, secrets, services, pods (+log, +status),
 *   persistentvolumeclaims, serviceaccounts, events; apps/v1 deployments, statefulsets,
 *   replicasets; batch/v1 jobs, cronjobs; networking.k8s.io/v1 ingresses, networkpolicies;
 *   policy/v1 poddisruptionbudgets; autoscaling/v2 horizontalpodautoscalers;
 *   rbac.authorization.k8s.io/v1 roles, rolebindings, clusterroles, clusterrolebindings;
 *   authorization.k8s.io/v1 selfsubjectaccessreviews (`kubectl auth can-i`).
 * - Bodies in JSON or YAML; protobuf (which kubectl's typed clients send without a JSON
 *   fallback) only for SelfSubjectAccessReview, ConfigMap and Secret (`kubectl create
 *   configmap|secret`). Answers are always JSON, which every client accepts.
 * - Verbs: get, list (labelSelector =, ==, !=, in, notin, exists, !key; fieldSelector
 *   metadata.name/namespace and the real per-type fields; limit/continue), watch (streaming,
 *   see watch.ts), create (409 AlreadyExists, generateName), update (resourceVersion check →
 *   409 Conflict), patch (apply-patch+yaml = server-side apply with managedFields and
 *   conflicts, see apply.ts, and a stale resourceVersion in the body → 409 Conflict; merge-patch+json; strategic-merge-patch+json approximated as a
 *   merge patch that merges keyed lists; json-patch+json), delete (preconditions,
 *   propagationPolicy; batch/v1 Jobs orphan their pods by default, as in the real API),
 *   deletecollection. dryRun=All stores nothing. fieldValidation Strict/Warn/Ignore checks
 *   the top level and metadata only. Status subresources read and write status only.
 * - Table answers (meta.k8s.io/v1) for kubectl's human-readable get.
 * - metav1.Status errors with the real reasons and messages: NotFound, AlreadyExists,
 *   Conflict, Invalid (422, for a set of validations: names, labels, selectors vs. template
 *   labels, required containers/images, Job restartPolicy, immutable Job template, Deployment
 *   selector, immutable ConfigMaps/Secrets, StatefulSet spec, RoleBinding roleRef, claim
 *   spec), Forbidden, Unauthorized, MethodNotAllowed, UnsupportedMediaType, BadRequest.
 * - Apply converts the applied object to a trimmed typed schema (apply-schema.ts): unknown
 *   fields and duplicate list keys are the 500 `failed to create typed patch object …`.
 * - 403s besides RBAC's verb check: an apply that creates needs `create` (empty reason),
 *   ResourceQuota object counts (quota.ts), RBAC escalation prevention for Roles and
 *   RoleBindings (rbac-escalation.ts); a service account in a namespace that does not exist
 *   holds no rights there (403, not 404).
 * - Defaults the real server writes (replicas, strategy, imagePullPolicy, Service
 *   clusterIP/ports, Job selector/labels/backoffLimit, Secret stringData → data, …).
 * - Injected faults (faults.ts): 429 with Retry-After as the overload filters send it, 5xx,
 *   or a request held until the test releases it.
 * - Authentication by bearer token; authorization like RoleBindings only: a user may do
 *   everything inside its namespaces (read its own Namespace object, not change it) and
 *   nothing at cluster scope; unknown or missing token → 401. Namespaces exist only when
 *   arranged (or created by a cluster-admin user).
 * - Pod admission: Pod Security `enforce` labels on namespaces (restricted/baseline, see
 *   pod-security.ts), LimitRanges (defaults, min/max) and ResourceQuotas on pods and compute
 *   resources (compute-resources.ts) refuse pods with the real 403 texts.
 * - Simulated controllers (controllers.ts): Deployments/StatefulSets get ReplicaSets/pods and
 *   become ready after a delay unless arranged to fail (Deployments: available after
 *   minReadySeconds; refused pods give FailedCreate events and ReplicaFailure); Jobs run pods that succeed or fail as
 *   arranged, with logs; PVCs bind; an object with finalizers is only marked deleted (deletionTimestamp) until
 *   they are removed; claims get `kubernetes.io/pvc-protection` and go once no pod (finished or
 *   not) uses them; owned objects are garbage-collected; each namespace gets
 *   the `default` ServiceAccount and `kube-root-ca.crt` ConfigMap.
 *
 * Not implemented
 * - Aggregated discovery, protobuf for other kinds (`kubectl create deployment|job|…` get a
 *   415; `kubectl create -f` and `apply` send JSON and work), HTTP/2, OpenAPI schemas
 *   (kubectl explain), CRDs, admission webhooks, graceful deletion of pods (an object
 *   without finalizers goes at once), exec/attach/port-forward/proxy/eviction subresources
 *   (scale is served: scale.ts), server-side apply to …/scale,
 *   selfsubjectrulesreviews (`kubectl auth can-i --list`), the CronJob controller, rolling
 *   updates with surge (old pods go at once), a ReplicaSet replacing a deleted pod, SSA for
 *   set-lists (`v:`) and index-lists (`i:`), fieldValidation beyond top level/metadata,
 *   duplicate-field detection, watch events for objects leaving a selector, the
 *   `resourceVersionMatch` parameter, client certificates (tokens only).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { admitCreate, admitUpdate, type AdmissionContext } from './admission.js';
import { trackUpdate } from './apply.js';
import { serviceAccountUserName, UserRegistry, type AddUserOptions, type ForbidRule, type KubeUser } from './auth.js';
import { Controllers, type JobArrangement, type WorkloadArrangement } from './controllers.js';
import { DEFAULT_VERSION, type ServerVersion } from './discovery.js';
import { Faults, type ArrangedFault, type FaultRule } from './faults.js';
import type { ServerState } from './handlers.js';
import { renderKubeconfig } from './kubeconfig.js';
import { formatTime, type KubeObject } from './objects.js';
import { PodLogs } from './pod-logs.js';
import { groupVersionOf, resolveResourceType, resourceTypeForKind } from './resources.js';
import { createRequestHandler, type KubeRequestRecord } from './routes.js';
import { scaledParent } from './scale.js';
import { compileLabelSelector } from './selectors.js';
import { ObjectStore, type StoreSnapshot } from './store.js';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from './tls.js';

export type { StoreSnapshot };
export type { ArrangedFault, FaultRule };
export type { AddUserOptions, ForbidRule, JobArrangement, KubeObject, KubeRequestRecord, KubeUser, ServerVersion, WorkloadArrangement };
export { serviceAccountUserName };

export interface StartKubeApiServerOptions {
  /** namespaces that exist from the start */
  namespaces?: string[];
  /** users known from the start (more with addUser / addServiceAccount) */
  users?: AddUserOptions[];
  /** delay before a Deployment's or StatefulSet's pods run and are ready; default 150 ms */
  readyDelayMs?: number;
  /** how long a Job's pod runs before it succeeds or fails; default 150 ms */
  jobDelayMs?: number;
  /** what /version reports; default v1.32.4 */
  version?: ServerVersion;
  /** put `default` ServiceAccount and `kube-root-ca.crt` ConfigMap in each new namespace; default true */
  namespaceDefaults?: boolean;
  /** the objects of another server's snapshot(), there from the start (pod logs are not carried over) */
  objects?: StoreSnapshot;
}

export interface KubeconfigOptions {
  /** file to write; default a new file in the server's work dir */
  path?: string;
  /** which CA the kubeconfig trusts: the server's (default), another self-made one, or none (system roots) */
  ca?: 'server' | 'wrong' | 'none';
  insecureSkipTlsVerify?: boolean;
  /** bearer token to send instead of the user's (e.g. a revoked one) */
  token?: string;
  /** server URL instead of this server's (e.g. a closed port) */
  server?: string;
  contextName?: string;
}

export interface AddServiceAccountOptions {
  /** more namespaces the account's RoleBindings cover */
  extraNamespaces?: string[];
  forbid?: ForbidRule[];
  token?: string;
}

export interface KubeApiServer {
  /** `https://127.0.0.1:<port>` */
  url: string;
  port: number;
  caCertPem: string;
  caFile: string;
  /** temp dir with certificates and kubeconfigs, removed by stop() */
  workDir: string;
  /** every request so far, in arrival order */
  readonly requests: readonly KubeRequestRecord[];
  clearRequests(): void;
  /** errors thrown inside the simulated controllers; a test can assert there were none */
  readonly controllerErrors: readonly Error[];

  addUser(options: AddUserOptions): KubeUser;
  /** User `system:serviceaccount:<ns>:<name>` bound to its namespace; creates namespace and ServiceAccount. */
  addServiceAccount(namespace: string, name?: string, options?: AddServiceAccountOptions): KubeUser;
  user(name: string): KubeUser;
  /** Write a kubeconfig for a user (default namespace: the user's first) and return its path. */
  kubeconfigFor(user: string | KubeUser, namespace?: string, options?: KubeconfigOptions): Promise<string>;
  /** A kubeconfig trusting another CA, for TLS failure tests. */
  wrongCaKubeconfigFor(user: string | KubeUser, namespace?: string): Promise<string>;

  /** Arrange a namespace (idempotent); users cannot create namespaces themselves. */
  createNamespace(name: string, labels?: Record<string, string>): KubeObject;
  /** Create or replace an object as `manager` (default `ozg-test-arrange`), bypassing authorization. */
  putObject(object: KubeObject, options?: { manager?: string }): KubeObject;
  /** `resource` as kubectl takes it: `deployments`, `deploy`, `Deployment`, `deployments.apps`. */
  getObject(resource: string, namespace: string | undefined, name: string): KubeObject | undefined;
  listObjects(resource: string, namespace?: string, labelSelector?: string): KubeObject[];
  deleteObject(resource: string, namespace: string | undefined, name: string): boolean;
  podLog(namespace: string, pod: string, container?: string): string | undefined;
  setPodLog(namespace: string, pod: string, text: string, container?: string): void;

  /**
   * Scale a Deployment/StatefulSet as the HorizontalPodAutoscaler controller does: an Update of
   * the `scale` subresource by field manager `kube-controller-manager` (its user agent's first
   * word), which then owns `.spec.replicas` with subresource "scale".
   */
  scaleAsHpa(resource: string, namespace: string, name: string, replicas: number): KubeObject;
  /** Deployments/StatefulSets matching never become ready (or get a log, or another delay). Returns an undo. */
  arrangeWorkload(arrangement: WorkloadArrangement): () => void;
  /** Jobs matching succeed, fail or hang with a given log. Returns an undo. */
  arrangeJob(arrangement: JobArrangement): () => void;
  /** The next matching requests fail (429, 5xx) or wait until released; see faults.ts. */
  injectFault(rule: FaultRule): ArrangedFault;
  /** Poll (every 10 ms) until the predicate holds; rejects after timeoutMs (default 5000). */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;

  /** Every object as it is now, for another server to start from (`objects`), so tests need not redo what made them. */
  snapshot(): StoreSnapshot;

  /** Close watches and connections, stop the controllers, remove the work dir. */
  stop(): Promise<void>;
}

const ARRANGE_MANAGER = 'ozg-test-arrange';
/** kube-controller-manager's clients send `kube-controller-manager/<version> …/<controller>` as user agent. */
const HPA_MANAGER = 'kube-controller-manager';

export async function startKubeApiServer(options: StartKubeApiServerOptions = {}): Promise<KubeApiServer> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'ozg-kube-api-'));
  let server: Server | undefined;
  try {
    const ca = await createCertificateAuthority(workDir, 'ozg-test-ca');
    const serving = await issueServerCertificate(ca, workDir, 'kube-apiserver', { ipAddresses: ['127.0.0.1'], dnsNames: ['localhost', 'kubernetes', 'kubernetes.default.svc'] });

    const store = new ObjectStore();
    if (options.objects) store.load(options.objects);
    const users = new UserRegistry();
    const logs = new PodLogs();
    let clusterIp = 10;
    const admission: AdmissionContext = {
      allocateClusterIp: () => `10.96.${Math.floor(clusterIp / 250) % 250}.${(clusterIp++ % 250) + 1}`,
      namespaceLabels: (namespace) => (namespace ? store.get(resolveResourceType('namespaces'), undefined, namespace)?.metadata.labels : undefined),
      listInNamespace: (resource, namespace) => (namespace ? store.list(resolveResourceType(resource), namespace) : []),
    };
    const controllers = new Controllers(store, logs, admission, {
      readyDelayMs: options.readyDelayMs ?? 150,
      jobDelayMs: options.jobDelayMs ?? 150,
      namespaceDefaults: options.namespaceDefaults === false ? undefined : { caPem: ca.certPem },
    });
    controllers.start();
    const state: ServerState = { store, users, logs, controllers, admission, openWatches: new Set() };
    const requests: KubeRequestRecord[] = [];
    const faults = new Faults();
    const sockets = new Set<Socket>();
    let port = 0;

    server = createServer({ key: serving.keyPem, cert: serving.certPem }, createRequestHandler({ state, version: options.version ?? DEFAULT_VERSION, serverAddress: () => `127.0.0.1:${port}`, requests, faults }));
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    // TLS handshake failures (wrong CA tests) are the client's business, not an error here
    server.on('tlsClientError', () => undefined);
    const listening = server;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(0, '127.0.0.1', () => resolve());
    });
    port = (listening.address() as { port: number }).port;
    const url = `https://127.0.0.1:${port}`;

    const namespaceType = resolveResourceType('namespaces');
    let kubeconfigCounter = 0;
    let wrongCa: Promise<CertificateAuthority> | undefined;
    const userOf = (user: string | KubeUser): KubeUser => {
      const found = users.byName(typeof user === 'string' ? user : user.name);
      if (!found) throw new Error(`the fake Kubernetes API has no user ${typeof user === 'string' ? user : user.name}`);
      return found;
    };

    const api: KubeApiServer = {
      url,
      port,
      caCertPem: ca.certPem,
      caFile: ca.certFile,
      workDir,
      requests,
      clearRequests: () => void requests.splice(0),
      controllerErrors: controllers.errors,

      addUser: (userOptions) => users.add(userOptions),
      addServiceAccount(namespace, name = 'ozg', accountOptions = {}) {
        api.createNamespace(namespace);
        if (!store.get(resolveResourceType('serviceaccounts'), namespace, name)) {
          api.putObject({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
        }
        return users.add({
          name: serviceAccountUserName(namespace, name),
          namespaces: [namespace, ...(accountOptions.extraNamespaces ?? [])],
          forbid: accountOptions.forbid,
          token: accountOptions.token,
        });
      },
      user: (name) => userOf(name),
      async kubeconfigFor(user, namespace, kubeconfigOptions = {}) {
        const known = userOf(user);
        const caChoice = kubeconfigOptions.ca ?? 'server';
        let caPem: string | undefined;
        if (caChoice === 'server') caPem = ca.certPem;
        if (caChoice === 'wrong') {
          wrongCa ??= createCertificateAuthority(workDir, 'wrong-ca');
          caPem = (await wrongCa).certPem;
        }
        const file = kubeconfigOptions.path ?? path.join(workDir, `kubeconfig-${++kubeconfigCounter}.yaml`);
        const text = renderKubeconfig({
          server: kubeconfigOptions.server ?? url,
          caPem: kubeconfigOptions.insecureSkipTlsVerify ? undefined : caPem,
          insecureSkipTlsVerify: kubeconfigOptions.insecureSkipTlsVerify,
          userName: known.name,
          token: kubeconfigOptions.token ?? known.token,
          namespace: namespace ?? known.namespaces[0],
          clusterName: 'ozg-test',
          contextName: kubeconfigOptions.contextName ?? 'ozg-test',
        });
        await writeFile(file, text, { mode: 0o600 });
        return file;
      },
      wrongCaKubeconfigFor: (user, namespace) => api.kubeconfigFor(user, namespace, { ca: 'wrong' }),

      createNamespace(name, labels) {
        const existing = store.get(namespaceType, undefined, name);
        if (existing) return existing;
        const created = api.putObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(labels ? { labels } : {}) } });
        // at once rather than on the controller's next tick, so tests see a settled namespace
        if (options.namespaceDefaults !== false) controllers.populateNamespace(name, ca.certPem);
        return created;
      },
      putObject(object, putOptions = {}) {
        const type = resourceTypeForKind(object.apiVersion ?? '', object.kind ?? '');
        if (!type) throw new Error(`the fake Kubernetes API does not serve ${object.apiVersion}/${object.kind}`);
        const namespace = type.namespaced ? object.metadata.namespace : undefined;
        if (type.namespaced && (!namespace || !store.get(namespaceType, undefined, namespace))) {
          throw new Error(`putObject: namespace ${JSON.stringify(namespace)} does not exist; arrange it with createNamespace first`);
        }
        const live = store.get(type, namespace, object.metadata.name ?? '');
        const manager = putOptions.manager ?? ARRANGE_MANAGER;
        const common = { manager, apiVersion: groupVersionOf(type), now: formatTime(Date.now()) };
        if (!live) {
          const admitted = admitCreate(type, object, admission);
          trackUpdate({ live: undefined, result: admitted, ...common });
          return store.insert(type, admitted);
        }
        const admitted = admitUpdate(type, { ...object, metadata: { ...object.metadata, managedFields: live.metadata.managedFields } }, live, admission);
        trackUpdate({ live, result: admitted, ...common });
        return store.replace(type, admitted);
      },
      getObject: (resource, namespace, name) => store.get(resolveResourceType(resource), namespace, name),
      listObjects(resource, namespace, labelSelector) {
        const matches = compileLabelSelector(labelSelector);
        return store.list(resolveResourceType(resource), namespace).filter((o) => matches(o.metadata.labels));
      },
      deleteObject: (resource, namespace, name) => store.remove(resolveResourceType(resource), namespace, name) !== undefined,
      podLog(namespace, pod, container) {
        const object = store.get(resolveResourceType('pods'), namespace, pod);
        const name = container ?? object?.spec?.containers?.[0]?.name;
        return name ? logs.get(namespace, pod, name)?.text : undefined;
      },
      setPodLog(namespace, pod, text, container) {
        const object = store.get(resolveResourceType('pods'), namespace, pod);
        const name = container ?? object?.spec?.containers?.[0]?.name;
        if (!name) throw new Error(`setPodLog: pod ${namespace}/${pod} does not exist and no container was named`);
        logs.set(namespace, pod, name, text);
      },

      scaleAsHpa(resource, namespace, name, replicas) {
        const type = resolveResourceType(resource);
        const live = store.get(type, namespace, name);
        if (!live) throw new Error(`scaleAsHpa: ${resource} ${namespace}/${name} does not exist`);
        const admitted = admitUpdate(type, scaledParent(type, live, { spec: { replicas } }), live, admission);
        trackUpdate({ live, result: admitted, manager: HPA_MANAGER, apiVersion: groupVersionOf(type), now: formatTime(Date.now()), subresource: 'scale' });
        return store.replace(type, admitted);
      },
      arrangeWorkload: (arrangement) => controllers.arrangeWorkload(arrangement),
      arrangeJob: (arrangement) => controllers.arrangeJob(arrangement),
      injectFault: (rule) => faults.add(rule),
      async waitFor(predicate, timeoutMs = 5000) {
        const deadline = Date.now() + timeoutMs;
        while (!predicate()) {
          if (Date.now() > deadline) throw new Error(`waitFor: condition still false after ${timeoutMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      },

      snapshot: () => store.snapshot(),

      async stop() {
        controllers.stop();
        for (const close of [...state.openWatches]) close();
        await new Promise<void>((resolve) => {
          listening.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
        await rm(workDir, { recursive: true, force: true });
      },
    };

    for (const namespace of options.namespaces ?? []) api.createNamespace(namespace);
    for (const user of options.users ?? []) users.add(user);
    return api;
  } catch (error) {
    server?.close();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}
