// The short version of test/chaos/cluster.test.ts inside `npm test`: a private three-node RabbitMQ
// cluster, two clients publishing with all three nodes in AMQP_URL, one analytics; the node that
// leads the queue is stopped. Counted == confirmed exactly, the queue kept a leader, the clients
// reconnected once or so. Every node is stopped and its data deleted, also on failure.
import { after, before, test } from 'node:test';
import { leaderFailover, type PrivateCluster, startPrivateCluster } from './support/cluster-fixture.js';

let pc: PrivateCluster | undefined;

before(async () => {
  pc = await startPrivateCluster(3);
});

after(async () => {
  await pc?.destroy();
});

test('cluster: the queue leader stopped while clients publish; exact count, always a leader', async (t) => {
  await leaderFailover(t, pc!, { clients: 2, rate: 100, full: false });
});
