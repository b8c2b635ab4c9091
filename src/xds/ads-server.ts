// The gRPC AggregatedDiscoveryService: one stream per proxy, state of the world or delta. Requests
// are decoded and responses sent as pre-assembled bytes, so the service is defined by hand rather
// than through proto-loader (which would re-encode every resource for every stream).
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest, type DeltaDiscoveryRequest, type DiscoveryRequest, type NodeInfo } from '../envoy-api/discovery-codec.js';
import { formatIdentities } from '../tls/certificate-identities.js';
import { CSDS_SERVICE, csdsHandlers, type CsdsScope } from './client-status-service.js';
import { DeltaStream } from './delta-stream.js';
import { ProxyRegistry, type ProxyRecord } from './proxy-status.js';
import type { SnapshotCache } from './snapshot-cache.js';
import { SotwStream } from './sotw-stream.js';
import type { StreamContext } from './stream-context.js';
import { checkFirstNode, claimableBy, nodeChanged, type NodeIdentityCheck, type Refusal } from './stream-identity.js';
import type { XdsMetrics } from './xds-metrics.js';

const SERVICE = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

function method<Req>(name: string, decode: (b: Buffer) => Req): grpc.MethodDefinition<Req, Buffer> {
  return {
    path: `${SERVICE}/${name}`,
    requestStream: true,
    responseStream: true,
    requestSerialize: () => {
      throw new Error('server side only');
    },
    requestDeserialize: decode,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  };
}

export const ADS_SERVICE: grpc.ServiceDefinition = {
  StreamAggregatedResources: method<DiscoveryRequest>('StreamAggregatedResources', decodeDiscoveryRequest),
  DeltaAggregatedResources: method<DeltaDiscoveryRequest>('DeltaAggregatedResources', decodeDeltaDiscoveryRequest),
};

export interface AdsServerOptions {
  readonly cache: SnapshotCache;
  readonly metrics: XdsMetrics;
  readonly logger: Logger;
  /** Plaintext when absent. */
  readonly credentials?: grpc.ServerCredentials;
  /** With mutual TLS: each stream's node must be an identity of the client certificate. */
  readonly nodeIdentity?: NodeIdentityCheck;
}

type Duplex<Req> = grpc.ServerDuplexStream<Req, Buffer>;

export class AdsServer {
  readonly proxies = new ProxyRegistry();
  private readonly server = new grpc.Server({
    // Envoy keeps ADS streams open for hours; let it ping them.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    // channelz keeps per-call and per-socket tracing for grpc's debugging service, which is not
    // served here: its bookkeeping is paid on every message of every stream.
    'grpc.enable_channelz': 0,
  });
  private readonly streams = new Set<{ onSnapshot(): void; end(): void }>();
  private boundPort = 0;

  constructor(private readonly o: AdsServerOptions) {
    const identity = o.nodeIdentity;
    const scope: CsdsScope | undefined = identity && ((call) => {
      const claimable = claimableBy(identity, call.getAuthContext().sslPeerCertificate?.raw);
      return (p: ProxyRecord) => claimable(p.node);
    });
    this.server.addService(CSDS_SERVICE, csdsHandlers(this.proxies, scope));
    this.server.addService(ADS_SERVICE, {
      StreamAggregatedResources: (call: Duplex<DiscoveryRequest>) => this.serve(call, 'sotw', (ctx) => new SotwStream(ctx)),
      DeltaAggregatedResources: (call: Duplex<DeltaDiscoveryRequest>) => this.serve(call, 'delta', (ctx) => new DeltaStream(ctx)),
    });
    o.cache.on('update', () => {
      for (const s of this.streams) s.onSnapshot();
    });
  }

  get port(): number {
    return this.boundPort;
  }

  private serve<Req extends { readonly node: NodeInfo | undefined }>(
    call: Duplex<Req>,
    protocol: 'sotw' | 'delta',
    make: (ctx: StreamContext) => { onRequest(r: Req): void; onSnapshot(): void },
  ): void {
    const record = this.proxies.open(protocol, call.getPeer());
    const logger = this.o.logger.child({ stream: record.streamId, protocol });
    const ctx: StreamContext = {
      cache: this.o.cache,
      record,
      metrics: this.o.metrics,
      logger,
      send: (bytes) => {
        if (!call.writableEnded && !call.destroyed) call.write(bytes);
      },
    };
    const machine = make(ctx);
    // 'new' until the first request binds the stream to its node; nothing is sent before that.
    let state: 'new' | 'bound' | 'refused' = 'new';
    const handle = {
      onSnapshot: () => {
        if (state === 'bound') machine.onSnapshot();
      },
      end: () => {
        if (!call.writableEnded) call.end();
      },
    };
    this.streams.add(handle);
    this.o.metrics.streams.inc({ protocol });
    this.o.metrics.activeStreams.inc({ protocol });
    let closed = false;
    const close = (why: string): void => {
      if (closed) return;
      closed = true;
      this.streams.delete(handle);
      this.proxies.close(record);
      this.o.metrics.activeStreams.dec({ protocol });
      logger.info({ node: record.node?.id, why }, 'ADS stream closed');
    };
    const refuse = (node: NodeInfo | undefined, r: Refusal): void => {
      state = 'refused';
      this.o.metrics.identityRejections.inc({ protocol, reason: r.reason });
      logger.warn({ claimedNode: node?.id, claimedCluster: node?.cluster, certificateIdentities: r.identities, reason: r.reason, peer: call.getPeer() }, `xDS stream refused: ${r.message}`);
      call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: r.message });
    };
    call.on('data', (req: Req) => {
      if (state === 'refused') return;
      if (state === 'new') {
        const refusal = this.o.nodeIdentity && checkFirstNode(this.o.nodeIdentity, req.node, call.getAuthContext().sslPeerCertificate?.raw);
        if (refusal) return refuse(req.node, refusal);
        record.bindNode(req.node);
        state = 'bound';
        if (req.node) logger.info({ node: req.node.id, cluster: req.node.cluster, envoy: req.node.envoyVersion }, 'proxy connected');
      } else if (nodeChanged(record.node, req.node)) {
        const message = `the stream belongs to node "${record.node?.id ?? ''}"; a later request names node "${req.node!.id}"`;
        if (this.o.nodeIdentity) {
          // Logged as every refusal is: the id claimed and the names the client certificate holds.
          const certificate = call.getAuthContext().sslPeerCertificate?.raw;
          const identities = certificate ? formatIdentities(this.o.nodeIdentity.readIdentities(certificate)) : [];
          return refuse(req.node, { reason: 'node_changed', message, identities });
        }
        logger.warn({ node: record.node?.id, claimedNode: req.node!.id }, `${message}; it is ignored`);
      }
      try {
        machine.onRequest(req);
      } catch (e) {
        logger.error({ err: e }, 'failed to handle a discovery request');
        call.destroy(e as Error);
      }
    });
    call.on('end', () => {
      close('client ended');
      handle.end();
    });
    call.on('error', (e) => close(`error: ${e.message}`));
    call.on('cancelled', () => close('cancelled'));
    call.on('close', () => close('closed'));
  }

  /** Binds `host:port` (port 0 picks a free one) and starts serving. */
  async listen(address: string): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, this.o.credentials ?? grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    return this.boundPort;
  }

  /** Ends streams, waits up to `graceMs` for them to close, then forces the rest. */
  async close(graceMs = 2000): Promise<void> {
    for (const s of this.streams) s.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
