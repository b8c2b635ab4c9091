// A minimal incremental (delta) ADS client for the fan-out benchmark: subscribes like Envoy and ACKs
// every response.
import * as grpc from '@grpc/grpc-js';
import { encodeAs } from '../src/envoy-api/proto-json.js';
import { envoyProtoRoot } from '../src/envoy-api/proto-root.js';

export interface DeltaResponse {
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: ReadonlyArray<{ name: string; typeUrl: string; value: Uint8Array }>;
  readonly removed: readonly string[];
}

const METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

export class DeltaClient {
  private readonly client: grpc.Client;
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private nodeSent = false;

  constructor(
    target: string,
    private readonly node: { id: string; cluster: string },
    private readonly onResponse: (r: DeltaResponse) => void,
  ) {
    this.client = new grpc.Client(target, grpc.credentials.createInsecure());
  }

  start(): void {
    this.call = this.client.makeBidiStreamRequest(METHOD, (b: Buffer) => b, (b: Buffer) => b);
    const t = envoyProtoRoot().lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    this.call.on('data', (b: Buffer) => {
      const m = t.decode(b) as unknown as {
        type_url: string;
        nonce: string;
        resources: Array<{ name: string; resource?: { type_url: string; value: Uint8Array } }>;
        removed_resources: string[];
      };
      this.send({ type_url: m.type_url, response_nonce: m.nonce });
      this.onResponse({
        typeUrl: m.type_url,
        nonce: m.nonce,
        resources: m.resources.map((r) => ({ name: r.name, typeUrl: r.resource?.type_url ?? '', value: r.resource?.value ?? new Uint8Array() })),
        removed: m.removed_resources,
      });
    });
    this.call.on('error', () => undefined);
  }

  subscribe(typeUrl: string, names: readonly string[]): void {
    this.send({ type_url: typeUrl, resource_names_subscribe: [...names] });
  }

  private send(o: Record<string, unknown>): void {
    const msg = this.nodeSent ? o : { ...o, node: this.node };
    this.nodeSent = true;
    this.call?.write(Buffer.from(encodeAs('envoy.service.discovery.v3.DeltaDiscoveryRequest', msg as never)));
  }

  close(): void {
    this.call?.cancel();
    this.client.close();
  }
}
