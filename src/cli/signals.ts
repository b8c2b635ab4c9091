/** Resolves on the first SIGINT or SIGTERM: how every long-running command ends. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
