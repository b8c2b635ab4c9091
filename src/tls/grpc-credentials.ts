// gRPC credentials over CertificateFiles, so servers and clients pick up rotated files.
import * as grpc from '@grpc/grpc-js';
import type { CertificateFiles } from './certificate-files.js';

/** TLS with this certificate; with a CA file also mutual: a client without a certificate that CA issued is refused at the handshake. */
export function serverCredentials(files: CertificateFiles): grpc.ServerCredentials {
  const mutual = files.files.caFile !== undefined;
  // grpc-js names these parameters the wrong way round: the first is the identity provider, the
  // second the (optional) provider of CAs that verify clients.
  return grpc.experimental.createCertificateProviderServerCredentials(files, mutual ? files : null, mutual);
}

/** Verifies the server with the CA file; presents the certificate, when there is one. */
export function channelCredentials(files: CertificateFiles): grpc.ChannelCredentials {
  return grpc.experimental.createCertificateProviderChannelCredentials(files, files.files.certFile !== undefined ? files : null);
}

/** Channel options that verify the server as `name` and send it as SNI and authority. */
export function serverNameOptions(name: string | undefined): grpc.ChannelOptions {
  return name === undefined ? {} : { 'grpc.ssl_target_name_override': name, 'grpc.default_authority': name };
}
