// Kubernetes objects as `kubectl get -o yaml` prints them: the common header (apiVersion, kind,
// metadata), and the core objects that say where a Service's traffic goes: Service (ports,
// ExternalName), EndpointSlice (the ready addresses behind it) and Pod (only its labels, for
// Istio subsets). Controllers' output (`status`) and bookkeeping metadata carry nothing to serve.
// https://kubernetes.io/docs/reference/kubernetes-api/service-resources/endpoint-slice-v1/
import { isIP } from 'node:net';
import { ProblemCode } from '../problems.js';
import { Fields, type Dialect, type ImportProblems } from './fields.js';
import type { SourceObject, SourceRef } from './source.js';

export const KUBERNETES: Dialect = { importer: "shadowplane's Kubernetes import", unsupportedReason: '' };

/** The namespace of an object that names none (what `kubectl apply` uses without -n). */
export const DEFAULT_NAMESPACE = 'default';

export interface KubeObject {
  readonly apiVersion: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** metadata.creationTimestamp as written (RFC 3339), for Gateway API's "oldest route first". */
  readonly created: string | undefined;
  /** `HTTPRoute/default/http-mirror` */
  readonly resource: string;
  /** The object's top level, labelled with `resource`; apiVersion, kind, metadata and status are taken. */
  readonly fields: Fields;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** Reads the header every Kubernetes object has; undefined (after reporting why) when it is unusable. */
export function readKubeObject(o: SourceObject, problems: ImportProblems, dialect: Dialect): KubeObject | undefined {
  const top = Fields.open(o.value, o.at, problems, dialect);
  if (!top) return undefined;
  const apiVersion = top.string('apiVersion', true);
  const kind = top.string('kind', true);
  const meta = top.object('metadata', true);
  const name = meta?.string('name', true);
  const namespace = meta?.string('namespace') ?? DEFAULT_NAMESPACE;
  const labels = meta?.stringMap('labels') ?? {};
  const created = meta?.string('creationTimestamp');
  // The rest of metadata is bookkeeping (uid, resourceVersion, annotations, managedFields, …).
  if (meta) meta.ignore(...meta.keys());
  top.ignore('status'); // written by controllers, never an input
  if (apiVersion === undefined || kind === undefined || name === undefined) return undefined;
  const resource = `${kind}/${namespace}/${name}`;
  return { apiVersion, ...splitApiVersion(apiVersion), kind, name, namespace, labels, created, resource, fields: top.as(resource) };
}

/** A string field as written, with where it is (to report on it once it is used). */
export interface Located {
  readonly value: string;
  readonly at: SourceRef;
}

export interface ServicePort {
  /** '' when unnamed: an EndpointSlice port is matched to it by name. */
  readonly name: string;
  readonly port: number;
  readonly targetPort: number | string | undefined;
  /** The port's `name` field, for Istio's protocol selection by name prefix. */
  readonly nameAt: SourceRef | undefined;
  /** `appProtocol`: the backend's application protocol (Gateway API GEP-1911, Istio's protocol selection). */
  readonly appProtocol: Located | undefined;
}

export interface KubeService {
  readonly namespace: string;
  readonly name: string;
  readonly externalName: string | undefined;
  readonly ports: readonly ServicePort[];
  readonly at: SourceRef;
}

interface SliceEndpoint {
  readonly address: string;
  readonly ready: boolean;
  /** The Pod the endpoint belongs to, for its labels. */
  readonly pod: string | undefined;
}

interface KubeEndpointSlice {
  readonly namespace: string;
  readonly service: string;
  readonly fqdn: boolean;
  readonly ports: ReadonlyArray<{ readonly name: string; readonly port: number | undefined; readonly appProtocol: Located | undefined }>;
  readonly endpoints: readonly SliceEndpoint[];
}

/** One address traffic for a Service port may go to. */
export interface BackendEndpoint {
  readonly host: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
}

export type ServiceLookup =
  | {
      readonly ok: true;
      readonly service: KubeService;
      readonly port: ServicePort;
      readonly endpoints: readonly BackendEndpoint[];
      readonly dns: boolean;
      /**
       * The port's appProtocol: the Service port's, else the one its EndpointSlices carry (Kubernetes
       * copies the Service port's into them). `conflicts` are slice ports that say otherwise.
       */
      readonly appProtocol: Located | undefined;
      readonly conflicts: readonly Located[];
    }
  | { readonly ok: false; readonly reason: string };

/** `host:port`, with brackets for IPv6. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Services, their EndpointSlices and Pods' labels, as read from the import's documents. */
export class ServiceRegistry {
  private readonly services = new Map<string, KubeService>();
  private readonly slices: KubeEndpointSlice[] = [];
  private readonly podLabels = new Map<string, Readonly<Record<string, string>>>();

  readService(o: KubeObject, problems: ImportProblems): void {
    const spec = o.fields.object('spec', true);
    o.fields.finish();
    if (!spec) return;
    const type = spec.string('type') ?? 'ClusterIP';
    const externalName = spec.string('externalName');
    if (type === 'ExternalName' && externalName === undefined) spec.invalid(undefined, 'an ExternalName Service needs spec.externalName');
    const ports = spec.objects('ports').flatMap((p): ServicePort[] => {
      const port = p.integer('port', 1, 65535, true);
      const name = p.string('name') ?? '';
      const targetPort = p.id('targetPort');
      const protocol = p.string('protocol') ?? 'TCP';
      if (protocol !== 'TCP') p.unsupported('protocol', `protocol ${protocol}: only TCP ports carry HTTP`);
      const appProtocol = located(p, 'appProtocol');
      p.ignore('nodePort');
      p.finish();
      if (port === undefined) return [];
      const nameAt = p.has('name') ? p.ref('name') : undefined;
      return [{ name, port, targetPort: targetPort !== undefined && /^\d+$/.test(targetPort) ? Number(targetPort) : targetPort, nameAt, appProtocol }];
    });
    if (spec.string('sessionAffinity') === 'ClientIP') {
      problems.warn(spec.ref('sessionAffinity'), ProblemCode.IMPORT_IGNORED, 'sessionAffinity ClientIP is not applied: requests are balanced over the endpoints without affinity');
    }
    // How kube-proxy and cloud load balancers deliver traffic to the Service; shadowplane routes to
    // its endpoints directly, and the selector's result is what EndpointSlices list.
    spec.ignore(
      'selector', 'clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy', 'internalTrafficPolicy', 'externalTrafficPolicy', 'externalIPs',
      'allocateLoadBalancerNodePorts', 'loadBalancerIP', 'loadBalancerSourceRanges', 'loadBalancerClass', 'healthCheckNodePort',
      'publishNotReadyAddresses', 'sessionAffinityConfig', 'trafficDistribution',
    );
    spec.finish();
    this.services.set(`${o.namespace}/${o.name}`, { namespace: o.namespace, name: o.name, externalName, ports, at: o.fields.at });
  }

  readEndpointSlice(o: KubeObject): void {
    const f = o.fields;
    const service = o.labels['kubernetes.io/service-name'];
    if (service === undefined) f.invalid(undefined, 'an EndpointSlice needs the label kubernetes.io/service-name naming its Service');
    const addressType = f.string('addressType', true);
    if (addressType !== undefined && !['IPv4', 'IPv6', 'FQDN'].includes(addressType)) f.invalid('addressType', `expected IPv4, IPv6 or FQDN, got ${addressType}`);
    const ports = f.objects('ports').map((p) => {
      const port = { name: p.string('name') ?? '', port: p.integer('port', 1, 65535), appProtocol: located(p, 'appProtocol') };
      const protocol = p.string('protocol') ?? 'TCP';
      if (protocol !== 'TCP') p.unsupported('protocol', `protocol ${protocol}: only TCP ports carry HTTP`);
      p.finish();
      return port;
    });
    const endpoints = f.objects('endpoints').flatMap((e): SliceEndpoint[] => {
      const addresses = e.strings('addresses', true);
      const conditions = e.object('conditions');
      // Kubernetes: a missing `ready` is to be read as ready.
      const ready = conditions?.boolean('ready') ?? true;
      conditions?.ignore('serving', 'terminating');
      conditions?.finish();
      const target = e.object('targetRef');
      const pod = target?.string('kind') === 'Pod' ? `${target.string('namespace') ?? o.namespace}/${target.string('name') ?? ''}` : undefined;
      target?.ignore(...target.keys());
      e.ignore('hostname', 'nodeName', 'zone', 'hints', 'deprecatedTopology');
      e.finish();
      return addresses.map((a) => ({ address: a.value, ready, pod }));
    });
    f.finish();
    if (service !== undefined) this.slices.push({ namespace: o.namespace, service, fqdn: addressType === 'FQDN', ports, endpoints });
  }

  readPod(o: KubeObject): void {
    // A Pod is read for its labels (Istio subsets select endpoints by them); the rest is the workload.
    o.fields.ignore('spec');
    o.fields.finish();
    this.podLabels.set(`${o.namespace}/${o.name}`, o.labels);
  }

  /** Every Service read, in the order read. */
  all(): KubeService[] {
    return [...this.services.values()];
  }

  service(namespace: string, name: string): KubeService | undefined {
    return this.services.get(`${namespace}/${name}`);
  }

  /** The Service's port `port` (its only port when undefined) and the ready endpoints behind it. */
  lookup(namespace: string, name: string, port: number | undefined): ServiceLookup {
    const service = this.service(namespace, name);
    if (!service) return { ok: false, reason: `Service ${namespace}/${name} not found` };
    const sp = port === undefined ? (service.ports.length === 1 ? service.ports[0] : undefined) : service.ports.find((p) => p.port === port);
    if (!sp) {
      const have = service.ports.map((p) => p.port).join(', ') || 'none';
      return { ok: false, reason: port === undefined ? `Service ${namespace}/${name} has several ports (${have}); name one` : `Service ${namespace}/${name} has no port ${port} (it has ${have})` };
    }
    if (service.externalName !== undefined) {
      return { ok: true, service, port: sp, endpoints: [{ host: service.externalName, port: sp.port, labels: {} }], dns: true, appProtocol: sp.appProtocol, conflicts: [] };
    }
    const endpoints: BackendEndpoint[] = [];
    let dns = false;
    let appProtocol = sp.appProtocol;
    const conflicts: Located[] = [];
    for (const s of this.slices) {
      if (s.namespace !== namespace || s.service !== name) continue;
      const slicePort = s.ports.find((p) => p.name === sp.name);
      if (!slicePort || slicePort.port === undefined) continue;
      if (slicePort.appProtocol !== undefined) {
        appProtocol ??= slicePort.appProtocol;
        if (slicePort.appProtocol.value !== appProtocol.value) conflicts.push(slicePort.appProtocol);
      }
      for (const e of s.endpoints) {
        if (!e.ready) continue;
        endpoints.push({ host: e.address, port: slicePort.port, labels: (e.pod !== undefined ? this.podLabels.get(e.pod) : undefined) ?? {} });
        dns ||= s.fqdn;
      }
    }
    if (endpoints.length === 0) {
      return {
        ok: false,
        reason: `Service ${namespace}/${name} port ${sp.port} has no ready endpoints (no EndpointSlice labelled kubernetes.io/service-name=${name} lists one for port "${sp.name}")`,
      };
    }
    return { ok: true, service, port: sp, endpoints, dns, appProtocol, conflicts };
  }
}

/**
 * Reports, once each, EndpointSlice ports whose appProtocol differs from the one the backend is
 * sent with (the Service port's, or the first slice's): Kubernetes copies the Service port's into
 * its slices, so they should agree.
 */
export function reportAppProtocolConflicts(found: Extract<ServiceLookup, { ok: true }>, problems: ImportProblems, reported: Set<object>): void {
  for (const c of found.conflicts) {
    if (reported.has(c)) continue;
    reported.add(c);
    problems.add(
      c.at,
      ProblemCode.IMPORT_INVALID_VALUE,
      `appProtocol ${c.value} differs from ${found.appProtocol!.value}, which Service ${found.service.namespace}/${found.service.name} port ${found.port.port} is sent with (Kubernetes copies the Service port's appProtocol into its EndpointSlices)`,
    );
  }
}

/** A string field with its place, or undefined when it is not set (a wrong type is reported). */
function located(f: Fields, key: string): Located | undefined {
  const value = f.string(key);
  return value === undefined ? undefined : { value, at: f.ref(key) };
}
