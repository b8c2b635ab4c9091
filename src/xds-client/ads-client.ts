// A state-of-the-world ADS client, as Envoy behaves on the wire: one stream, a request per type,
// ACK (version of the response) or NACK (last accepted version plus error_detail) with the response's
// nonce. Used by the TypeScript data path (`shadowplane proxy --xds`), the benchmark's simulated
// proxies and the tests.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { decodeDiscoveryResponse, encodeDiscoveryRequest, type DecodedResponse } from '../envoy-api/discovery-codec.js';

export interface AdsClientOptions {
  /** host:port of the ADS server. */
  readonly target: string;
  readonly node: { readonly id: string; readonly cluster?: string };
  /** TLS (tls/grpc-credentials.ts) and its channel options; plaintext without. */
  readonly credentials?: grpc.ChannelCredentials;
  readonly channelOptions?: grpc.ChannelOptions;
  /**
   * Decides on each response: undefined accepts it (ACK), a string rejects it (NACK) with that
   * message. Responses are decided one at a time, in the order they arrived; the ACK or NACK is sent
   * once the decision (which may be asynchronous) is made.
   */
  readonly onResponse: (r: DecodedResponse) => string | undefined | Promise<string | undefined>;
}

export interface AdsClientEvents {
  /** The stream ended or failed (once per stream); the client does not reconnect by itself. */
  closed: [error: Error | undefined];
}

const STREAM_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

export class AdsClient extends EventEmitter<AdsClientEvents> {
  private readonly client: grpc.Client;
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private readonly names = new Map<string, readonly string[]>();
  private readonly accepted = new Map<string, string>();
  private readonly nonces = new Map<string, string>();
  private nodeSent = false;
  private decisions: Promise<void> = Promise.resolve();

  constructor(private readonly o: AdsClientOptions) {
    super();
    this.client = new grpc.Client(o.target, o.credentials ?? grpc.credentials.createInsecure(), o.channelOptions ?? {});
  }

  /** Opens the stream. */
  start(): void {
    const call = this.client.makeBidiStreamRequest<Buffer, Buffer>(
      STREAM_METHOD,
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    this.call = call;
    this.nodeSent = false;
    call.on('data', (bytes: Buffer) => this.onData(bytes));
    // A failing stream emits both 'error' and 'end': the stream closes once.
    let closed = false;
    const close = (e: Error | undefined): void => {
      if (closed) return;
      closed = true;
      this.emit('closed', e);
    };
    call.on('error', close);
    call.on('end', () => close(undefined));
    for (const [typeUrl, names] of this.names) this.request(typeUrl, names, this.accepted.get(typeUrl) ?? '', '');
  }

  /** Sets the resource names wanted for a type (empty for wildcard LDS/CDS) and asks for them. */
  subscribe(typeUrl: string, names: readonly string[]): void {
    const before = this.names.get(typeUrl);
    this.names.set(typeUrl, [...names]);
    if (before && before.join('\0') === names.join('\0')) return;
    this.request(typeUrl, names, this.accepted.get(typeUrl) ?? '', this.nonces.get(typeUrl) ?? '');
  }

  /** The version last accepted for a type. */
  acceptedVersion(typeUrl: string): string | undefined {
    return this.accepted.get(typeUrl);
  }

  private request(typeUrl: string, names: readonly string[], versionInfo: string, nonce: string, error?: string): void {
    if (!this.call) return;
    this.call.write(
      encodeDiscoveryRequest({
        versionInfo,
        ...(this.nodeSent ? {} : { node: this.o.node }),
        resourceNames: names,
        typeUrl,
        responseNonce: nonce,
        ...(error !== undefined ? { errorDetail: { code: 3, message: error } } : {}),
      }),
    );
    this.nodeSent = true;
  }

  private onData(bytes: Buffer): void {
    const r = decodeDiscoveryResponse(bytes);
    this.nonces.set(r.typeUrl, r.nonce);
    this.decisions = this.decisions.then(async () => {
      let error: string | undefined;
      try {
        error = await this.o.onResponse(r);
      } catch (e) {
        error = (e as Error).message;
      }
      if (error === undefined) this.accepted.set(r.typeUrl, r.versionInfo);
      this.request(r.typeUrl, this.names.get(r.typeUrl) ?? [], this.accepted.get(r.typeUrl) ?? '', r.nonce, error);
    });
  }

  close(): void {
    this.call?.cancel();
    this.call = undefined;
    this.client.close();
  }
}
