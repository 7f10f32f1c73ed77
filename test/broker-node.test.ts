// The private RabbitMQ nodes of the fault tests and scripts/bench-private.ts must run on their own
// configuration: a setting they are given (a WAL size under comparison) that the shared broker's
// /etc/rabbitmq/conf.d overrode would be measured as something it is not.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type BrokerNode, createBrokerNode } from './support/broker-node.js';

describe('private RabbitMQ node', () => {
  let node: BrokerNode;
  before(async () => {
    node = await createBrokerNode('warren_conf', { conf: ['raft.wal_max_size_bytes = 33554432'] });
    await node.start();
  });
  after(async () => {
    await node?.destroy();
  });

  it('reads only its own rabbitmq.conf: its settings hold, and no file of /etc/rabbitmq is loaded', async () => {
    const wal = await node.ctl('eval', 'application:get_env(ra, wal_max_size_bytes).');
    assert.equal(wal.trim(), '{ok,33554432}');
    const files = await node.ctl('eval', 'rabbit_env:get_context().');
    assert.doesNotMatch(files, /\/etc\/rabbitmq\/conf\.d/, 'the node loaded the shared conf.d');
    assert.doesNotMatch(
      files,
      /\/etc\/rabbitmq\/advanced\.config/,
      'the node read the shared advanced.config',
    );
  });
});
