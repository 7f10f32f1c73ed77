// Scenario: a three-node RabbitMQ cluster of the test's own (deploy/rabbit-cluster.ts). Three
// clients publish, listing all three nodes in AMQP_URL, and one analytics counts. The node that
// leads cola_analiticas is stopped, later started again, then the new leader (a different node) is
// stopped. Counted == confirmed exactly; the queue had a leader on a running node throughout
// (polled); each client logged at most a short burst of reconnects. Every node is stopped and its
// data deleted, also on failure.
import { after, before, test } from 'node:test';
import { leaderFailover, type PrivateCluster, startPrivateCluster } from '../support/cluster-fixture.js';

let pc: PrivateCluster | undefined;

before(async () => {
  pc = await startPrivateCluster(3);
});

after(async () => {
  await pc?.destroy();
});

test('cluster: leader stopped, restarted, then another node stopped; exact count, always a leader', async (t) => {
  await leaderFailover(t, pc!, { clients: 3, rate: 200, full: true });
});
