// grpc-js writes its own diagnostics straight to stderr ("E No address added out of total 1
// resolved" beside our one-line error). In our processes they go to our logger, at debug level:
// what matters reaches the user through our own messages.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

export function routeGrpcLogs(logger: Logger): void {
  const log = logger.child({ component: 'grpc' });
  grpc.setLogger({ error: (...args: unknown[]) => log.debug(args.map(String).join(' ')) });
}
