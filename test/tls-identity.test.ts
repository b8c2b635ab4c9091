// The pieces of secure xDS on their own: which node ids a certificate may claim (the default rule and
// templates), reading a certificate's names from its DER, and certificate files that are checked
// before use and keep the last good pair.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { CertificateFiles, TlsFileError } from '../src/tls/certificate-files.js';
import { loadIdentityReader, type CertificateIdentities } from '../src/tls/certificate-identities.js';
import { DEFAULT_NODE_IDENTITY_RULE, IdentityTemplateError, nodeIdentityTemplate } from '../src/tls/node-identity.js';
import { waitFor } from '../src/sandbox/wait.js';
import { fingerprint, makeTestPki, SERVER_REQUEST, type TestPki } from './helpers/pki.js';
import { X509Certificate } from 'node:crypto';

const ids = (dns: string[], uris: string[] = []): CertificateIdentities => ({ dns, uris });
const claim = (id: string, cluster = 'edge') => ({ id, cluster });

describe('node identity rule', () => {
  it('default: the node id is a DNS name, or the last path segment of a URI', () => {
    const rule = DEFAULT_NODE_IDENTITY_RULE;
    const cert = ids(['front-1.mesh', 'front-1'], ['spiffe://example.org/node/edge-7', 'https://example.org/a/b?q=x#y']);
    for (const id of ['front-1', 'front-1.mesh', 'edge-7', 'b']) assert.ok(rule.allows(claim(id), cert), id);
    for (const id of ['', 'front', 'FRONT-1', 'node', 'example.org', 'edge-7?', 'q=x', 'y', 'spiffe://example.org/node/edge-7']) assert.ok(!rule.allows(claim(id), cert), id);
    assert.ok(!rule.allows(claim(''), ids([''], ['spiffe://x/node/'])), 'an empty id matches nothing');
  });

  it('a template: {id} in place, * one path segment, matched whole against DNS names and URIs', () => {
    const rule = nodeIdentityTemplate('spiffe://example.org/ns/*/sa/{id}');
    const cert = ids([], ['spiffe://example.org/ns/prod/sa/front-1']);
    assert.ok(rule.allows(claim('front-1'), cert));
    assert.ok(!rule.allows(claim('front'), cert), 'whole, not a prefix');
    assert.ok(!rule.allows(claim('front-1'), ids([], ['spiffe://example.org/ns/a/b/sa/front-1'])), '* does not cross /');
    assert.ok(!rule.allows(claim('front-1'), ids([], ['spiffe://example.org/ns//sa/front-1'])), '* is not empty');
    assert.ok(!rule.allows(claim('front-1'), ids(['front-1'], [])), 'the default rule no longer applies');
    assert.ok(!rule.allows(claim('x.y'), ids([], ['spiffe://example.org/ns/p/sa/xzy'])), 'the id is literal, not a pattern');
    const dns = nodeIdentityTemplate('{id}.{cluster}.nodes.example.org');
    assert.ok(dns.allows(claim('n1', 'edge'), ids(['n1.edge.nodes.example.org'])));
    assert.ok(!dns.allows(claim('n1', 'core'), ids(['n1.edge.nodes.example.org'])), '{cluster} binds the node cluster too');
  });

  it('a template without {id}, or with an unknown placeholder, is refused', () => {
    assert.throws(() => nodeIdentityTemplate('spiffe://example.org/ns/*'), IdentityTemplateError);
    assert.throws(() => nodeIdentityTemplate('spiffe://example.org/{node}/{id}'), /unknown placeholder "\{node\}"/);
    assert.throws(() => nodeIdentityTemplate(''), IdentityTemplateError);
  });
});

describe('certificates', () => {
  let pki: TestPki;
  before(async () => {
    pki = await makeTestPki();
  });
  after(() => pki.remove());

  it("reads a certificate's DNS and URI names from its DER", async () => {
    const read = await loadIdentityReader();
    const der = new X509Certificate(readFileSync(pki.nodeA.certFile)).raw;
    assert.deepEqual(read(der), { dns: ['node-a'], uris: ['spiffe://shadowplane.test/node/node-a'] });
    assert.deepEqual(read(Buffer.from('not a certificate')), { dns: [], uris: [] });
  });

  it('certificate files: a missing file, a key of another certificate, a CA that is not one: TlsFileError naming the file', () => {
    const make = (files: ConstructorParameters<typeof CertificateFiles>[0]) => () => new CertificateFiles(files, { role: 'test server' });
    assert.throws(make({ certFile: `${pki.dir}/none.pem`, keyFile: pki.server.keyFile }), (e: unknown) => e instanceof TlsFileError && /none\.pem as the test server certificate: ENOENT$/.test(e.message));
    assert.throws(make({ certFile: pki.server.certFile, keyFile: pki.nodeA.keyFile }), /node-a-key\.pem as the test server private key: the key does not belong to the certificate$/);
    assert.throws(make({ certFile: pki.server.keyFile, keyFile: pki.server.keyFile }), /server-key\.pem as the test server certificate: not a PEM certificate/);
    assert.throws(make({ caFile: pki.server.keyFile }), /as the test server CA certificates: not a PEM certificate/);
  });

  it('a rotation is applied once it is whole; files that cannot be used keep the last good pair', async () => {
    const files = await pki.issue('watched', SERVER_REQUEST);
    const watched = new CertificateFiles(files, { role: 'test', refreshMs: 50 });
    const seen: string[] = [];
    const listener = (u: { certificate: Buffer } | null): void => void seen.push(u ? fingerprint(u.certificate) : 'null');
    watched.addIdentityCertificateListener(listener);
    try {
      await waitFor('the current pair is delivered', () => seen.length === 1);
      assert.equal(seen[0], fingerprint(readFileSync(files.certFile)));
      await writeFile(files.keyFile, readFileSync(pki.nodeB.keyFile));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.length, 1, 'a key of another certificate is not delivered');
      assert.equal(fingerprint(watched.keyPair!.cert), seen[0]);
      const rotated = await pki.rotateServer(files);
      await waitFor('the new pair is delivered', () => seen.at(-1) === rotated);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(seen, [seen[0], rotated], 'unchanged files are not delivered again, and null never');
    } finally {
      watched.removeIdentityCertificateListener(listener);
    }
  });
});
