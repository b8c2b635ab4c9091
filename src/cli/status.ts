// `shadowplane status`: the proxies a control plane serves, one line each, like `istioctl proxy-status`.
import type { Io } from './output.js';

interface TypeJson {
  state: string;
  lastNack?: { version: string; message: string; at: string };
}
interface ProxyJson {
  nodeId: string;
  nodeCluster: string;
  envoyVersion: string | null;
  protocol: string;
  connectedSince: string;
  types: Record<string, TypeJson>;
  warnings: string[];
}
interface StatusJson {
  configFile: string;
  configVersion: number;
  lastRejected: { at: string; problems: string[] } | null;
  proxies: ProxyJson[];
}

const TYPES = ['CDS', 'EDS', 'LDS', 'RDS', 'RTDS'] as const;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function formatStatus(s: StatusJson): string {
  const rows = [['NODE', 'CLUSTER', 'ENVOY', 'XDS', ...TYPES]];
  const notes: string[] = [];
  for (const p of s.proxies) {
    rows.push([p.nodeId, p.nodeCluster || '-', p.envoyVersion ?? '-', p.protocol === 'delta' ? 'DELTA' : 'SOTW', ...TYPES.map((t) => p.types[t]?.state ?? '-')]);
    for (const t of TYPES) {
      const n = p.types[t]?.lastNack;
      if (p.types[t]?.state === 'NACKED' && n) notes.push(`${p.nodeId} ${t} NACKED at ${n.at}: ${n.message}`);
    }
    for (const w of p.warnings) notes.push(`${p.nodeId} warning: ${w}`);
  }
  let out = `config ${s.configFile}, version ${s.configVersion}, ${s.proxies.length} proxies\n${table(rows)}\n`;
  if (s.lastRejected) out += `\nlast rejected edit (${s.lastRejected.at}), still serving version ${s.configVersion}:\n${s.lastRejected.problems.map((p) => `  ${p}`).join('\n')}\n`;
  if (notes.length > 0) out += `\n${notes.join('\n')}\n`;
  return out;
}

/** `shadowplane status [--admin URL]` */
export async function statusCommand(o: { admin?: string; format?: string }, io: Io): Promise<number> {
  const base = o.admin ?? 'http://127.0.0.1:19000';
  const url = `${/^https?:\/\//.test(base) ? base : `http://${base}`}/status`;
  let status: StatusJson;
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    status = (await res.json()) as StatusJson;
  } catch (e) {
    io.err(`shadowplane: cannot read ${url}: ${(e as Error).message}\n`);
    return 1;
  }
  io.out(o.format === 'json' ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  return 0;
}
