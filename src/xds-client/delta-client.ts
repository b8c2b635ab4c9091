// An incremental (delta) ADS client: subscribes by name as Envoy does and ACKs every response. Used
// by the fan-out benchmark's simulated proxies.
import * as grpc from '@grpc/grpc-js';
import { decodeDeltaDiscoveryResponse, encodeDeltaDiscoveryRequest, type DecodedDeltaResponse } from '../envoy-api/discovery-codec.js';

const METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

export class DeltaClient {
  private readonly client: grpc.Client;
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private nodeSent = false;

  constructor(
    target: string,
    private readonly node: { id: string; cluster: string },
    private readonly onResponse: (r: DecodedDeltaResponse) => void,
    channelOptions: grpc.ChannelOptions = {},
  ) {
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), channelOptions);
  }

  start(): void {
    this.call = this.client.makeBidiStreamRequest(METHOD, (b: Buffer) => b, (b: Buffer) => b);
    this.call.on('data', (b: Buffer) => {
      const r = decodeDeltaDiscoveryResponse(b);
      this.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });
      this.onResponse(r);
    });
    this.call.on('error', () => undefined);
  }

  subscribe(typeUrl: string, names: readonly string[]): void {
    this.send({ typeUrl, subscribe: names });
  }

  private send(o: { typeUrl: string; subscribe?: readonly string[]; responseNonce?: string }): void {
    const node = this.nodeSent ? undefined : this.node;
    this.nodeSent = true;
    this.call?.write(encodeDeltaDiscoveryRequest({ ...o, ...(node ? { node } : {}) }));
  }

  close(): void {
    this.call?.cancel();
    this.client.close();
  }
}
