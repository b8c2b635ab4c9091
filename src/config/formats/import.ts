// Imports documents written for Gateway API, Istio or APISIX into one shadowplane config, which then
// goes through the same validation as a shadowplane file. All or nothing: any error rejects the
// whole set. A problem found in the generated config is reported at the source it came from.
import { formatPath, ProblemCode, type ConfigProblem, type FieldPath } from '../problems.js';
import { configSchema, type ConfigFile } from '../schema.js';
import { checkSemantics } from '../semantic.js';
import { schemaProblems } from '../schema-problems.js';
import { DEFAULT_LISTEN_ADDRESS, type ImportContext, type ListenAddress } from './context.js';
import { detectLayout, endsWithApisixMarker, type SourceFormat } from './detect.js';
import { ImportProblems } from './fields.js';
import { ENVOY_GATEWAY_GROUP, GATEWAY_API, GATEWAY_API_GROUP, GatewayApiImport } from './gateway-api.js';
import { ApisixImport } from './apisix.js';
import { ImportedConfig } from './imported-config.js';
import { ISTIO, ISTIO_GROUP, IstioImport } from './istio.js';
import { KUBERNETES, readKubeObject, ServiceRegistry, type KubeObject } from './kubernetes.js';
import { documentValue, problemAt, sourceObjects, type SourceDocument, type SourceObject, type SourceRef } from './source.js';

export interface ImportOptions {
  /** Only documents of this format (and the Kubernetes objects it reads) are accepted. */
  readonly from?: SourceFormat | undefined;
  readonly listen?: ListenAddress | undefined;
}

export type ImportResult =
  | {
      readonly ok: true;
      /** Validated, as the rest of shadowplane reads it. */
      readonly config: ConfigFile;
      readonly warnings: readonly ConfigProblem[];
      /** What was built, with the source of each part (for `convert`'s comments). */
      readonly imported: { readonly config: ConfigFile; readonly origins: ImportedConfig };
    }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** Kinds that describe workloads or credentials, not routing: read past with a warning. */
const IGNORED_KINDS: Record<string, string> = {
  '/ServiceAccount': 'a ServiceAccount carries no routing',
  '/ConfigMap': 'a ConfigMap carries no routing',
  '/Secret': 'a Secret carries no routing',
  '/Namespace': 'a Namespace carries no routing',
  'apps/Deployment': 'a Deployment describes pods, not routing; their addresses come from EndpointSlice documents',
  'apps/StatefulSet': 'a StatefulSet describes pods, not routing; their addresses come from EndpointSlice documents',
  'apps/DaemonSet': 'a DaemonSet describes pods, not routing; their addresses come from EndpointSlice documents',
  'apps/ReplicaSet': 'a ReplicaSet describes pods, not routing; their addresses come from EndpointSlice documents',
};

/** The format a Kubernetes API group belongs to; undefined for the core objects every format reads. */
function formatOfGroup(group: string): SourceFormat | 'other' | undefined {
  if (group === GATEWAY_API_GROUP || group === ENVOY_GATEWAY_GROUP) return 'gateway-api';
  if (group === ISTIO_GROUP) return 'istio';
  if (group === '' || group === 'discovery.k8s.io' || group === 'apps') return undefined;
  return 'other';
}

function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
}

class Importer {
  readonly problems = new ImportProblems();
  readonly out = new ImportedConfig();
  readonly services = new ServiceRegistry();
  private readonly ctx: ImportContext;
  private readonly gateway: GatewayApiImport;
  private readonly istio: IstioImport;
  private readonly apisix: ApisixImport;
  /** Where the config as a whole is said to come from (problems with no better place). */
  first: SourceRef | undefined;

  constructor(private readonly o: ImportOptions) {
    this.ctx = { problems: this.problems, out: this.out, services: this.services, listen: o.listen ?? DEFAULT_LISTEN_ADDRESS };
    this.gateway = new GatewayApiImport(this.ctx);
    this.istio = new IstioImport(this.ctx);
    this.apisix = new ApisixImport(this.ctx);
  }

  private wrongFormat(at: SourceRef, what: string, format: SourceFormat): boolean {
    if (this.o.from === undefined || this.o.from === format) return false;
    this.problems.add(at, ProblemCode.IMPORT_UNKNOWN_KIND, `${what} is ${format}, not ${this.o.from} (--from ${this.o.from})`);
    return true;
  }

  read(object: SourceObject): void {
    this.first ??= object.at;
    // A List item is not the document, whose end marker says nothing about it.
    const detected = detectLayout(object.value, { endMarker: object.at.path.length === 0 && endsWithApisixMarker(object.at.source.doc) });
    switch (detected.layout) {
      case 'kubernetes':
        return this.readKube(object);
      case 'apisix':
        if (this.wrongFormat(object.at, 'an APISIX configuration', 'apisix')) return;
        return this.apisix.read(object, detected);
      case 'shadowplane':
        this.problems.add(
          object.at,
          ProblemCode.IMPORT_UNKNOWN_KIND,
          'a shadowplane config cannot be combined with imported documents: give it on its own, or convert the others (shadowplane convert) into it',
        );
        return;
      case 'unknown':
        this.problems.add(object.at, ProblemCode.IMPORT_UNKNOWN_KIND, 'not a Kubernetes object (apiVersion and kind), an APISIX configuration or a shadowplane config');
    }
  }

  private readKube(object: SourceObject): void {
    const probe = object.value as { apiVersion: string; kind: string };
    const group = probe.apiVersion.includes('/') ? probe.apiVersion.slice(0, probe.apiVersion.lastIndexOf('/')) : '';
    const format = formatOfGroup(group);
    const o = readKubeObject(object, this.problems, format === 'gateway-api' ? GATEWAY_API : format === 'istio' ? ISTIO : KUBERNETES);
    if (!o) return;
    if (format !== undefined && format !== 'other' && this.wrongFormat(o.fields.at, `this ${o.kind}`, format)) return;
    if (this.o.from === 'apisix' || this.o.from === 'shadowplane') {
      this.problems.add(o.fields.at, ProblemCode.IMPORT_UNKNOWN_KIND, `${o.kind} is a Kubernetes object, not ${this.o.from} (--from ${this.o.from})`);
      return;
    }
    if (this.readCore(o) || this.gateway.read(o) || this.istio.read(o)) return;
    this.problems.add(
      o.fields.at,
      ProblemCode.IMPORT_UNKNOWN_KIND,
      `kind ${o.kind} of ${o.apiVersion} is not one shadowplane reads (Gateway API Gateway, HTTPRoute, ReferenceGrant; Envoy Gateway Backend; Istio Gateway, VirtualService, DestinationRule, ServiceEntry; Service, EndpointSlice, Pod)`,
    );
  }

  /** Kubernetes' own objects: Services and their endpoints, and kinds that carry no routing. */
  private readCore(o: KubeObject): boolean {
    const key = `${o.group}/${o.kind}`;
    const ignored = IGNORED_KINDS[key];
    if (ignored !== undefined) {
      o.fields.ignore(...o.fields.keys());
      this.problems.warn(o.fields.at, ProblemCode.IMPORT_IGNORED, `${o.kind} ${o.namespace}/${o.name} is ignored: ${ignored}`);
      return true;
    }
    if (key === '/Service' && o.version === 'v1') this.services.readService(o, this.problems);
    else if (key === 'discovery.k8s.io/EndpointSlice' && o.version === 'v1') this.services.readEndpointSlice(o);
    else if (key === '/Pod' && o.version === 'v1') this.services.readPod(o);
    else if (key === '/Endpoints') {
      o.fields.ignore(...o.fields.keys());
      o.fields.unsupported(undefined, 'Endpoints (deprecated in Kubernetes): give the EndpointSlices instead (kubectl get endpointslices -o yaml)');
    } else return false;
    return true;
  }

  /** The generated config's problem `path`, placed at the source the part it names came from. */
  private placeGenerated(config: ConfigFile, p: { code: ConfigProblem['code']; severity: ConfigProblem['severity']; path: FieldPath; message: string }): ConfigProblem {
    const at = this.out.originAt(config, p.path) ?? this.first!;
    return problemAt(at, p.code, p.severity, `${p.message} (in the shadowplane config this becomes: ${formatPath(p.path)})`);
  }

  finish(): ImportResult {
    this.gateway.build();
    this.istio.build();
    this.apisix.build();
    if (this.problems.errorCount > 0) return { ok: false, problems: sortProblems(this.problems.items) };
    const config = this.out.toConfig();
    if (config.listeners.length === 0) {
      if (this.first) this.problems.add(this.first, ProblemCode.IMPORT_NO_PARENT, 'nothing to serve: no route is attached to a listener (a Gateway listener, an Istio Gateway or mesh port, or APISIX routes)');
      return { ok: false, problems: sortProblems(this.problems.items) };
    }
    const parsed = configSchema.safeParse(config);
    const generated = parsed.success ? checkSemantics(parsed.data) : schemaProblems(parsed.error.issues);
    const all = [...this.problems.items, ...generated.map((p) => this.placeGenerated(config, p))];
    if (!parsed.success || all.some((p) => p.severity === 'error')) return { ok: false, problems: sortProblems(all) };
    return { ok: true, config: parsed.data, warnings: sortProblems(all), imported: { config, origins: this.out } };
  }
}

/** Imports every object of the documents as one config. */
export function importDocuments(documents: readonly SourceDocument[], o: ImportOptions = {}): ImportResult {
  const importer = new Importer(o);
  const problems: ConfigProblem[] = [];
  for (const d of documents) {
    const v = documentValue(d);
    if ('problem' in v) problems.push(v.problem);
    else for (const object of sourceObjects(d, v.value)) importer.read(object);
  }
  if (problems.length > 0) return { ok: false, problems: sortProblems([...problems, ...importer.problems.items]) };
  return importer.finish();
}
