// Generated configs for benchmarks: N routes over a few virtual hosts, a quarter of them mirrored.

export interface GenOptions {
  readonly routes: number;
  /** Port of the front listener. */
  readonly port?: number;
  /** Endpoint port of every primary cluster; `clusterCount` clusters are shared round robin. */
  readonly clusterCount?: number;
  /** Changes one cluster's endpoint, so successive edits differ. */
  readonly edit?: number;
}

export function generateConfig(o: GenOptions): string {
  const clusters = o.clusterCount ?? Math.max(4, Math.ceil(o.routes / 10));
  const vhosts = Math.max(1, Math.ceil(o.routes / 500));
  const lines: string[] = ['listeners:', '  - name: bench', `    address: 127.0.0.1:${o.port ?? 10080}`, '    virtual_hosts:'];
  let r = 0;
  for (let v = 0; v < vhosts; v++) {
    lines.push(`      - name: vh${v}`, `        domains: ["vh${v}.example", "vh${v}.example:*"${v === 0 ? ', "*"' : ''}]`, '        routes:');
    const per = Math.ceil(o.routes / vhosts);
    for (let i = 0; i < per && r < o.routes; i++, r++) {
      const mirror = r % 4 === 0 ? `, mirrors: [{ cluster: m${(r / 4) % clusters}, percent: ${(r % 100) + 0.5} }]` : '';
      lines.push(`          - { name: r${r}, match: { prefix: /r${r}/ }, cluster: c${r % clusters}${mirror} }`);
    }
  }
  lines.push('clusters:');
  for (let c = 0; c < clusters; c++) {
    const port = 20000 + c + (c === 0 ? (o.edit ?? 0) : 0);
    lines.push(`  - { name: c${c}, endpoints: ["127.0.0.1:${port}"] }`);
    lines.push(`  - { name: m${c}, endpoints: ["127.0.0.2:${port}"], circuit_breakers: { max_requests: 64 } }`);
  }
  return `${lines.join('\n')}\n`;
}
