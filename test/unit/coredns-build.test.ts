// tasks/images/coredns-build.ts: the cluster's CoreDNS main (upstream's plugin.cfg without the cloud
// backends and the tracer, in its order) and the check of a built binary against the Corefile.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clusterCorednsPlugins, corefileDirectives, missingDirectives, pluginsOf, renderCorednsMain } from '../../tasks/images/coredns-build.ts';
import { renderCorefile } from '../../tasks/cluster/render/addons.ts';

// The shape of upstream's plugin.cfg (v1.12.1): comments, name:package lines, one external package.
const PLUGIN_CFG = `# Directives are registered in the order they should be executed.
#
# <plugin-name>:<package-name>

root:root
metadata:metadata
reload:reload
trace:trace
prometheus:metrics
errors:errors
route53:route53
azure:azure
clouddns:clouddns
kubernetes:kubernetes
forward:forward
on:github.com/coredns/caddy/onevent
`;

test('plugin.cfg lines become import paths in file order; an external package stays as it is', () => {
  assert.equal(pluginsOf(PLUGIN_CFG).slice(0, 5), [
    { name: 'root', pkg: 'github.com/coredns/coredns/plugin/root' },
    { name: 'metadata', pkg: 'github.com/coredns/coredns/plugin/metadata' },
    { name: 'reload', pkg: 'github.com/coredns/coredns/plugin/reload' },
    { name: 'trace', pkg: 'github.com/coredns/coredns/plugin/trace' },
    { name: 'prometheus', pkg: 'github.com/coredns/coredns/plugin/metrics' },
  ]);
  assert.equal(pluginsOf(PLUGIN_CFG).at(-1), { name: 'on', pkg: 'github.com/coredns/caddy/onevent' });
  assert.throws(() => pluginsOf('root:root\nbroken\n'), /plugin.cfg line 2 is not name:package: "broken"/);
});

test('the cluster build drops the cloud backends and the tracer, and keeps the rest in order', () => {
  assert.equal(clusterCorednsPlugins(PLUGIN_CFG).map((p) => p.name), ['root', 'metadata', 'reload', 'prometheus', 'errors', 'kubernetes', 'forward', 'on']);
});

test('the generated main imports each kept plugin and sets the directives in plugin.cfg order', () => {
  const main = renderCorednsMain(clusterCorednsPlugins(PLUGIN_CFG));
  assert.match(main, /^package main$/m);
  assert.match(main, /\t_ "github.com\/coredns\/coredns\/plugin\/metrics"\n/);
  assert.match(main, /\t_ "github.com\/coredns\/caddy\/onevent"\n/);
  assert.not.match(main, /"github.com\/coredns\/coredns\/plugin\/(route53|azure|clouddns|trace)"|"(route53|azure|clouddns|trace)",/);
  assert.match(main, /dnsserver\.Directives = \[\]string\{\n\t\t"root",\n\t\t"metadata",\n\t\t"reload",\n\t\t"prometheus",\n\t\t"errors",\n\t\t"kubernetes",\n\t\t"forward",\n\t\t"on",\n\t\}/);
  assert.match(main, /func main\(\) \{\n\tcoremain\.Run\(\)\n\}/);
});

test("the cluster's Corefile uses these directives, nested blocks not counted", () => {
  const corefile = renderCorefile({ clusterDomain: 'cluster.local', upstreams: ['192.0.2.1'] });
  assert.equal(corefileDirectives(corefile), ['errors', 'health', 'ready', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance']);
  assert.equal(corefileDirectives('.:53 {\n  log # every query\n  hosts {\n    10.0.0.1 a.test\n    fallthrough\n  }\n}\nexample.test:53 {\n  file db.example\n}\n'), ['log', 'hosts', 'file']);
});

test('a build whose plugin listing lacks a directive of the Corefile is named', () => {
  const corefile = renderCorefile({ clusterDomain: 'cluster.local', upstreams: ['192.0.2.1'] });
  const all = 'cache\nerrors\nforward\nhealth\nkubernetes\nloadbalance\nloop\nprometheus\nready\nreload\n';
  assert.equal(missingDirectives(all, corefile), []);
  assert.equal(missingDirectives(all.replace('forward\n', ''), corefile), ['forward']);
  // The older listing format: headings and dns.<name> lines.
  assert.equal(missingDirectives(`Server types:\n  dns\n\nOther plugins:\n${all.split('\n').filter(Boolean).map((p) => `  dns.${p}`).join('\n')}\n`, corefile), []);
});

test.run();
