import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort, freePorts } from './net.js';

const ephemeralLow = Number(
  readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
);

const listens = (port: number, host: string) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });

// A compose project publishes 14 ports at once: two of them the same (listen(0) twice can hand
// out one port twice) and docker fails the second bind, "address already in use".
test('freePorts: n distinct ports, below the ephemeral range, each free on every address', async () => {
  for (let round = 0; round < 20; round++) {
    const ports = await freePorts(14);
    assert.equal(ports.length, 14);
    assert.equal(new Set(ports).size, 14, `a port twice: ${ports.join(' ')}`);
    for (const p of ports) {
      assert.ok(p >= 1024 && p < ephemeralLow, `${p} is in the ephemeral range (from ${ephemeralLow})`);
    }
    for (const p of ports.slice(0, 3)) assert.ok(await listens(p, '0.0.0.0'), `${p} is held`);
  }
});

// Six ports for a cluster are picked one by one before any node binds one: a port handed out
// twice in one process makes two nodes race for it.
test('freePort: never the same port twice in one process', async () => {
  const seen = new Set<number>();
  for (let i = 0; i < 600; i++) {
    const p = await freePort();
    assert.ok(!seen.has(p), `port ${p} handed out twice (call ${i + 1})`);
    seen.add(p);
  }
});
