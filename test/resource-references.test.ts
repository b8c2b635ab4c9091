// resourceReferences(): the EDS and RDS names every reader here follows, as Envoy follows them.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { resourceReferences } from '../src/envoy-api/resource-references.js';
import { TypeUrl } from '../src/envoy-api/type-urls.js';

const eds = (name: string, serviceName?: string) => ({
  '@type': TypeUrl.Cluster,
  name,
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {} }, ...(serviceName !== undefined ? { service_name: serviceName } : {}) },
});

it('an EDS cluster reads eds_cluster_config.service_name, else its own name; other clusters read none', () => {
  const clusters = [eds('b'), eds('a', 'shared'), eds('c', 'shared'), eds('d', ''), { '@type': TypeUrl.Cluster, name: 'dns', type: 'STRICT_DNS' }];
  assert.deepEqual(resourceReferences({ clusters }).endpoints, ['b', 'd', 'shared']);
});

it("a listener's RDS names, sorted and without repeats", () => {
  const hcm = (rc: string) => ({ filters: [{ name: 'hcm', typed_config: { '@type': TypeUrl.HttpConnectionManager, rds: { config_source: { ads: {} }, route_config_name: rc } } }] });
  const listeners = [
    { '@type': TypeUrl.Listener, name: 'l1', filter_chains: [hcm('z'), hcm('a')] },
    { '@type': TypeUrl.Listener, name: 'l2', filter_chains: [hcm('a')] },
  ];
  assert.deepEqual(resourceReferences({ listeners }), { endpoints: [], routes: ['a', 'z'] });
});
