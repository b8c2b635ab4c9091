// The status page on the control plane's admin address: one HTML page and its static assets, shipped
// in the package (ui/status/) with uPlot served from its npm package, and /mirror_stats. No build
// step, no CDN: the page polls the admin's JSON endpoints and draws everything itself.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { send, type AdminRoutes } from './admin-server.js';
import type { MirrorStats } from './mirror-stats.js';

const require = createRequire(import.meta.url);
// src/server and dist/server alike sit two levels below the package root.
const UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../ui/status');

/** URL path → file and content type. Only these are served: nothing else on disk is reachable. */
const ASSETS: Readonly<Record<string, { readonly file: () => string; readonly type: string }>> = {
  '/': { file: () => path.join(UI_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: () => path.join(UI_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { file: () => path.join(UI_DIR, 'app.css'), type: 'text/css; charset=utf-8' },
  '/ui/uplot.js': { file: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/ui/uplot.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** The page builds its DOM from text only; the policy also stops any markup that slipped through from running. */
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const cache = new Map<string, Buffer>();

async function asset(urlPath: string): Promise<Buffer> {
  let body = cache.get(urlPath);
  if (!body) {
    body = await readFile(ASSETS[urlPath]!.file());
    cache.set(urlPath, body);
  }
  return body;
}

/** The page and its files carry no data: anyone may load them (the page asks for a token when reads need one). */
export const STATUS_PAGE_PUBLIC_ROUTES: readonly string[] = [...Object.keys(ASSETS).map((p) => `GET ${p}`), 'GET /favicon.ico'];

export function statusPageRoutes(stats: MirrorStats): AdminRoutes {
  const routes: Record<string, AdminRoutes[string]> = {
    'GET /mirror_stats': async (_req, res) => send(res, 200, await stats.json()),
    // Browsers ask; the page has none.
    'GET /favicon.ico': (_req, res) => void res.writeHead(204).end(),
  };
  for (const [urlPath, spec] of Object.entries(ASSETS)) {
    routes[`GET ${urlPath}`] = async (_req, res) => {
      const body = await asset(urlPath);
      res.writeHead(200, { 'content-type': spec.type, 'cache-control': 'no-cache', 'content-security-policy': PAGE_POLICY, 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
  }
  return routes;
}
