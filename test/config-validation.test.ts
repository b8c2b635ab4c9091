// Broken configs: every problem in one pass, each with file:line:col, field path and message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig, parseConfigText } from '../src/config/load.js';
import { formatProblem } from '../src/config/problems.js';

function problems(text: string): string[] {
  const r = parseConfig(text, 'configs/x.yaml');
  assert.equal(r.ok, false, 'expected the config to be rejected');
  return r.ok ? [] : r.problems.map(formatProblem);
}

const CLUSTERS = `
clusters:
  - name: a
    endpoints: ["127.0.0.1:1"]
  - name: m
    endpoints: ["127.0.0.1:2"]
`;

function oneRoute(route: string): string {
  return `listeners:
  - name: front
    address: 0.0.0.0:10000
    virtual_hosts:
      - name: v
        domains: ["*"]
        routes:
${route}${CLUSTERS}`;
}

describe('config validation', () => {
  const cases: Array<{ name: string; text: string; expected: string[] }> = [
    {
      name: 'YAML syntax',
      text: 'listeners:\n  - name: [front\n',
      expected: ['configs/x.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ] [SP001]'],
    },
    {
      name: 'schema: unknown field, missing field, wrong type, all at once',
      text: `listeners:
  - name: front
    adress: 0.0.0.0:1
    virtual_hosts:
      - name: v
        domains: ["*"]
        routes:
          - match: { prefix: / }
            cluster: a
            timeout: soon
clusters:
  - name: a
    endpoints: [42]
`,
      expected: [
        'configs/x.yaml:2:5 listeners[0].address: missing required field "address" [SP002]',
        'configs/x.yaml:3:5 listeners[0].adress: unknown field "adress" [SP002]',
        'configs/x.yaml:10:22 listeners[0].virtual_hosts[0].routes[0].timeout: must be a duration such as "250ms", "2s" or "1m" [SP002]',
        'configs/x.yaml:13:17 clusters[0].endpoints[0]: must be "host:port" or { address: "host:port", weight: N } [SP002]',
      ],
    },
    {
      name: 'unknown primary and mirror clusters, allowlist entries, percent out of range',
      text: oneRoute(`          - match: { prefix: / }
            cluster: nope
            mirrors:
              - cluster: shadow
                percent: 150
              - cluster_header: x-mirror-cluster
                allowed_clusters: [m, phantom]
`),
      expected: [
        'configs/x.yaml:9:22 listeners[0].virtual_hosts[0].routes[0].cluster: unknown cluster "nope" [SP003]',
        'configs/x.yaml:11:26 listeners[0].virtual_hosts[0].routes[0].mirrors[0].cluster: unknown cluster "shadow" [SP003]',
        'configs/x.yaml:12:26 listeners[0].virtual_hosts[0].routes[0].mirrors[0].percent: percent 150 is out of range 0–100 [SP007]',
        'configs/x.yaml:14:39 listeners[0].virtual_hosts[0].routes[0].mirrors[1].allowed_clusters[1]: unknown cluster "phantom" in allowlist [SP004]',
        'configs/x.yaml:17:11 clusters[0].name: warning: cluster "a" is not used by any route or mirror [SP102]',
      ],
    },
    {
      name: 'percent finer than 0.0001 and a fraction above its denominator',
      text: oneRoute(`          - match: { prefix: / }
            cluster: a
            mirrors:
              - { cluster: m, percent: 0.00001 }
              - { cluster_header: x-m, allowed_clusters: [m], fraction: { numerator: 200, denominator: HUNDRED } }
`),
      expected: [
        'configs/x.yaml:11:40 listeners[0].virtual_hosts[0].routes[0].mirrors[0].percent: percent 0.00001 is finer than 0.0001 [SP007]',
        'configs/x.yaml:12:86 listeners[0].virtual_hosts[0].routes[0].mirrors[1].fraction.numerator: numerator 200 exceeds denominator HUNDRED [SP007]',
      ],
    },
    {
      name: 'duplicate names and two listeners on one port',
      text: `listeners:
  - name: front
    address: 0.0.0.0:10000
    virtual_hosts:
      - { name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: a }] }
  - name: front
    address: 127.0.0.1:10000
    virtual_hosts:
      - { name: v, domains: ["*"], routes: [{ match: { prefix: / }, cluster: a }] }
clusters:
  - { name: a, endpoints: ["127.0.0.1:1"] }
  - { name: a, endpoints: ["127.0.0.1:2"] }
`,
      expected: [
        'configs/x.yaml:6:11 listeners[1].name: duplicate listener "front" (first at listeners[0].name) [SP005]',
        'configs/x.yaml:7:14 listeners[1].address: port 10000 is already taken by listeners[0] [SP006]',
        'configs/x.yaml:12:13 clusters[1].name: duplicate cluster "a" (first at clusters[0].name) [SP005]',
      ],
    },
    {
      name: 'a mirror needs exactly one target; allowed_clusters only with cluster_header',
      text: oneRoute(`          - match: { prefix: / }
            cluster: a
            mirrors:
              - { cluster: m, cluster_header: x-m }
              - { cluster: a, allowed_clusters: [m] }
`),
      expected: [
        'configs/x.yaml:11:17 listeners[0].virtual_hosts[0].routes[0].mirrors[0]: needs exactly one of cluster or cluster_header [SP008]',
        `configs/x.yaml:11:47 listeners[0].virtual_hosts[0].routes[0].mirrors[0].cluster_header: warning: any request may choose the mirror cluster through "x-m"; add allowed_clusters. Envoy's docs: "Allowing a request header to determine the cluster that the request is mirrored to is most useful in a trusted environment. If you allow dynamic mirroring according to request header, you may wish to restrict which requests can set or proxy the header." [SP101]`,
        'configs/x.yaml:12:49 listeners[0].virtual_hosts[0].routes[0].mirrors[1].allowed_clusters: allowed_clusters goes with cluster_header [SP008]',
      ],
    },
    {
      name: 'a mirror path: a path without "?", and a fixed cluster to rewrite it for',
      text: oneRoute(`          - match: { prefix: / }
            cluster: a
            mirrors:
              - { cluster: m, path: { value: "/x?y=1", mode: append } }
              - { cluster_header: x-m, path: { value: /mirror } }
`),
      expected: [
        'configs/x.yaml:11:46 listeners[0].virtual_hosts[0].routes[0].mirrors[0].path.value: must start with "/" and hold no "?", "#", "\\" or white space [SP002]',
        'configs/x.yaml:11:62 listeners[0].virtual_hosts[0].routes[0].mirrors[0].path.mode: Invalid option: expected one of "replace"|"prefix" [SP002]',
      ],
    },
    {
      name: 'a mirror path with a header-selected cluster needs its allowlist',
      text: oneRoute(`          - match: { prefix: / }
            cluster: a
            mirrors:
              - { cluster_header: x-m, path: { value: /mirror } }
`),
      expected: [
        `configs/x.yaml:11:35 listeners[0].virtual_hosts[0].routes[0].mirrors[0].cluster_header: warning: any request may choose the mirror cluster through "x-m"; add allowed_clusters. Envoy's docs: "Allowing a request header to determine the cluster that the request is mirrored to is most useful in a trusted environment. If you allow dynamic mirroring according to request header, you may wish to restrict which requests can set or proxy the header." [SP101]`,
        'configs/x.yaml:11:46 listeners[0].virtual_hosts[0].routes[0].mirrors[0].path: path needs a fixed cluster: give cluster, or allowed_clusters with cluster_header [SP008]',
      ],
    },
    {
      name: 'addresses, regexes and cluster types',
      text: `listeners:
  - name: front
    address: localhost:99999
    virtual_hosts:
      - name: v
        domains: ["*"]
        routes:
          - { match: { regex: "(" }, cluster: a }
clusters:
  - { name: a, type: static, endpoints: ["backend.internal:80"] }
  - { name: b, type: logical_dns, endpoints: ["x:1", "y:2"] }
`,
      expected: [
        'configs/x.yaml:3:14 listeners[0].address: "localhost:99999" is not host:port [SP009]',
        'configs/x.yaml:8:31 listeners[0].virtual_hosts[0].routes[0].match.regex: invalid RE2 regular expression: missing closing ): `(` [SP010]',
        'configs/x.yaml:10:22 clusters[0].type: static endpoints must be IP addresses; use strict_dns or logical_dns for names [SP011]',
        'configs/x.yaml:11:13 clusters[1].name: warning: cluster "b" is not used by any route or mirror [SP102]',
        'configs/x.yaml:11:46 clusters[1].endpoints: logical_dns takes exactly one endpoint [SP011]',
      ],
    },
    {
      name: 'compare: JSONPaths outside the supported subset',
      text: oneRoute(`          - match: { prefix: / }
            cluster: a
            mirrors:
              - cluster: m
                compare:
                  ignore_json_paths: ["$.id", "id", "$.items[x]", "$"]
`),
      expected: [
        'configs/x.yaml:13:47 listeners[0].virtual_hosts[0].routes[0].mirrors[0].compare.ignore_json_paths[1]: "id" is not a supported JSONPath: it must start with "$" [SP013]',
        'configs/x.yaml:13:53 listeners[0].virtual_hosts[0].routes[0].mirrors[0].compare.ignore_json_paths[2]: "$.items[x]" is not a supported JSONPath: unexpected "[x]" at offset 7 (expected .name, [N] or [*]) [SP013]',
        'configs/x.yaml:13:67 listeners[0].virtual_hosts[0].routes[0].mirrors[0].compare.ignore_json_paths[3]: "$" is not a supported JSONPath: it must name a field below "$" [SP013]',
      ],
    },
    {
      name: 'compare: an unknown field and a body limit over 1 MiB',
      text: oneRoute(`          - match: { prefix: / }
            cluster: a
            mirrors:
              - cluster: m
                compare: { max_body_bytes: 2000000, status: false }
`),
      expected: [
        'configs/x.yaml:12:44 listeners[0].virtual_hosts[0].routes[0].mirrors[0].compare.max_body_bytes: Too big: expected number to be <=1048576 [SP002]',
        'configs/x.yaml:12:53 listeners[0].virtual_hosts[0].routes[0].mirrors[0].compare.status: unknown field "status" [SP002]',
      ],
    },
    {
      name: 'regexes with RE2 semantics, as Envoy matches them: no lookahead, no oversized program',
      text: oneRoute(`          - match: { regex: "/x(?=1)" }
            cluster: a
          - match: { prefix: /, headers: [{ name: x-id, regex: "[0-9]{120}" }] }
            cluster: m
`),
      expected: [
        'configs/x.yaml:8:29 listeners[0].virtual_hosts[0].routes[0].match.regex: invalid RE2 regular expression: invalid or unsupported Perl syntax: `(?=` [SP010]',
        "configs/x.yaml:10:64 listeners[0].virtual_hosts[0].routes[1].match.headers[0].regex: invalid RE2 regular expression: RE2 program size of 122 > max program size of 100 (Envoy's re2.max_program_size.error_level) [SP010]",
      ],
    },
    {
      name: 'an alias without its anchor',
      text: oneRoute(`          - { match: { prefix: / }, cluster: *ahttpbin }
`),
      expected: ['configs/x.yaml:8:46: unresolved alias *ahttpbin: no anchor &ahttpbin before it [SP001]'],
    },
    { name: 'an empty file', text: '', expected: ['configs/x.yaml:1:1: the file is empty: a config needs listeners and clusters [SP002]'] },
    { name: 'a file of comments only', text: '# nothing yet\n\n', expected: ['configs/x.yaml:1:1: the file is empty: a config needs listeners and clusters [SP002]'] },
    { name: 'a file of one "---"', text: '---\n', expected: ['configs/x.yaml:1:1: the file is empty: a config needs listeners and clusters [SP002]'] },
    { name: 'two empty documents', text: '---\n---\n', expected: ['configs/x.yaml:1:1: the file is empty: a config needs listeners and clusters [SP002]'] },
    { name: 'documents that are only nulls', text: '~\n---\n~\n', expected: ['configs/x.yaml:1:1: the file is empty: a config needs listeners and clusters [SP002]'] },
    {
      name: 'a second shadowplane document in one file',
      text: `${oneRoute('          - { match: { prefix: / }, cluster: a, mirrors: [{ cluster: m }] }\n')}---\nlisteners: []\n`,
      expected: ['configs/x.yaml:16:1: a shadowplane config is one YAML document; this is a second one [SP001]'],
    },
  ];

  for (const c of cases) {
    it(c.name, () => assert.deepEqual(problems(c.text), c.expected));
  }

  it('a header-selected mirror without an allowlist is accepted with a warning quoting Envoy’s trust concern', () => {
    const r = parseConfig(
      oneRoute(`          - match: { prefix: / }
            cluster: a
            mirrors: [{ cluster_header: x-mirror-cluster }]
`),
      'configs/x.yaml',
    );
    assert.ok(r.ok);
    assert.equal(r.warnings.length, 1);
    const w = formatProblem(r.warnings[0]!);
    assert.match(w, /^configs\/x\.yaml:10:41 listeners\[0\]\.virtual_hosts\[0\]\.routes\[0\]\.mirrors\[0\]\.cluster_header: warning: /);
    assert.match(w, /is most useful in a trusted environment/);
    assert.match(w, /\[SP101\]$/);
  });

  it('empty documents read as any format: the file is empty, at 1:1 (not an empty problem list)', () => {
    for (const text of ['---\n---\n', '~\n---\n~\n', '---\n', '']) {
      const r = parseConfigText(text, 'configs/x.yaml');
      assert.deepEqual(r.ok ? [] : r.problems.map(formatProblem), ['configs/x.yaml:1:1: the file is empty: a config needs listeners and clusters [SP002]'], JSON.stringify(text));
    }
  });

  it('"---" before, between or after a valid config says nothing: the config is accepted', () => {
    const config = oneRoute('          - { match: { prefix: / }, cluster: a, mirrors: [{ cluster: m }] }\n');
    for (const text of [`${config}---\n`, `---\n${config}`, `---\n---\n${config}---\n~\n`]) {
      const r = parseConfigText(text, 'configs/x.yaml');
      assert.ok(r.ok, `${JSON.stringify(text)}: ${r.ok ? '' : r.problems.map(formatProblem).join('\n')}`);
      assert.deepEqual(r.config, (parseConfig(config, 'configs/x.yaml') as { config: unknown }).config);
    }
  });

  it('a valid file has no problems', () => {
    const r = parseConfig(oneRoute(`          - { match: { prefix: / }, cluster: a, mirrors: [{ cluster: m, percent: 0.0001 }] }\n`), 'ok.yaml');
    assert.ok(r.ok);
    assert.deepEqual(r.warnings, []);
  });
});

describe('the fast YAML path', () => {
  it('accepts exactly what the careful path accepts, with the same result, for every example config', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parseCarefully } = await import('../src/config/load.js');
    const { exampleConfigs, REPO_ROOT } = await import('./helpers/repo.js');
    for (const config of exampleConfigs()) {
      const text = await readFile(`${REPO_ROOT}/${config}`, 'utf8');
      assert.deepEqual(parseConfig(text, config), parseCarefully(text, config), config);
    }
  });

  it('hands aliases to the careful path, which bounds their expansion', () => {
    const text = oneRoute(`          - &r { match: { prefix: / }, cluster: a, mirrors: [{ cluster: m }] }\n`);
    const r = parseConfig(text, 'alias.yaml');
    assert.ok(r.ok);
  });
});
