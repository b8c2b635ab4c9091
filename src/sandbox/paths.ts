import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's folder (configs/, envoy/, .venv/), from src/sandbox or dist/sandbox alike. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
