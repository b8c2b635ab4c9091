// shadowplane's own version (package.json's), for --version, the user agent the built-in data plane
// reports, and the status page.
import { createRequire } from 'node:module';

export const SHADOWPLANE_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
