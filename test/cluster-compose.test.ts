// The `cluster` profile of docker-compose.yml and deploy/docker-compose.cluster.yml, checked
// statically (no Docker engine here): three RabbitMQ nodes with distinct host names, ports and
// volumes, one cookie, the classic_config peer list naming exactly them, the later nodes waiting
// for the first; and the override pointing every Warren service at all three nodes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ROOT } from './support/helpers.js';

interface Service {
  image?: string;
  hostname?: string;
  profiles?: string[];
  restart?: string;
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
}
const read = (f: string) =>
  parse(readFileSync(join(ROOT, f), 'utf8'), { merge: true }) as {
    services: Record<string, Service>;
    volumes?: Record<string, unknown>;
  };
const compose = read('docker-compose.yml');
const NODES = ['rabbitmq-1', 'rabbitmq-2', 'rabbitmq-3'];

test('the cluster profile: three joined RabbitMQ nodes, only under that profile', () => {
  const conf = readFileSync(join(ROOT, 'deploy/rabbitmq/cluster.conf'), 'utf8');
  assert.match(conf, /^cluster_formation\.peer_discovery_backend = classic_config$/m);
  const peers = [...conf.matchAll(/^cluster_formation\.classic_config\.nodes\.\d+ = rabbit@(\S+)$/gm)].map(
    (m) => m[1],
  );
  assert.deepEqual(peers, NODES);
  const cookies = new Set<string>();
  for (const [i, name] of NODES.entries()) {
    const s = compose.services[name]!;
    assert.ok(s, `${name} exists`);
    assert.deepEqual(s.profiles, ['cluster']);
    assert.equal(s.hostname, name, 'the host name makes the node name rabbit@<host>');
    assert.match(s.image ?? '', /^rabbitmq:3-management/);
    assert.ok(s.restart);
    assert.ok(
      s.ports?.includes(`\${PUBLISH_AMQP_${i + 1}:-${5681 + i}}:5672`),
      `${name} publishes AMQP on ${5681 + i}`,
    );
    assert.ok(s.volumes?.includes(`${name}-data:/var/lib/rabbitmq`));
    assert.ok(compose.volumes && `${name}-data` in compose.volumes);
    assert.ok(s.volumes?.some((v) => v.startsWith('./deploy/rabbitmq/cluster.conf:/etc/rabbitmq/conf.d/')));
    cookies.add(s.environment?.RABBITMQ_ERLANG_COOKIE ?? '');
    if (i > 0) assert.equal(s.depends_on?.['rabbitmq-1']?.condition, 'service_healthy');
  }
  assert.equal(cookies.size, 1, 'one cookie for every node');
  assert.match([...cookies][0]!, /^\$\{RABBITMQ_ERLANG_COOKIE:\?/, 'no default cookie');
  // Nothing outside the profile changed: the single node is still the default broker.
  assert.equal(compose.services.rabbitmq?.profiles, undefined);
});

test('deploy/docker-compose.cluster.yml points every Warren service at the three nodes', () => {
  const over = read('deploy/docker-compose.cluster.yml');
  const warren = Object.entries(compose.services).filter(
    ([n, s]) => s.image === 'warren:local' && n !== 'read-auth',
  );
  assert.deepEqual(Object.keys(over.services).sort(), warren.map(([n]) => n).sort());
  for (const [name, s] of Object.entries(over.services)) {
    const urls = (s.environment?.AMQP_URL ?? '').split(',');
    assert.deepEqual(
      urls.map((u) => /@([^:]+):5672$/.exec(u)?.[1]),
      NODES,
      `${name}: AMQP_URL lists the three nodes`,
    );
    for (const u of urls) assert.match(u, /^amqp:\/\/\$\{RABBITMQ_USER[^}]*\}:\$\{RABBITMQ_PASSWORD/);
  }
});
