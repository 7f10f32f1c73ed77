// A free port for a child to bind: the bench's stages and the tests start their own servers on
// ports nothing else holds, never on the user's.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A port nothing listens on, for a child to bind. Picked at random below the kernel's ephemeral
 * range: a port the kernel handed out (listen(0)) is also what it hands to outgoing connections,
 * so between our close and the child's bind a client socket could take it (EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}

/**
 * Ports this process handed out: a child given one may not have bound it yet, so it is not handed
 * out again (a cluster's six ports are picked before any node starts). Forgotten when half the
 * window is used.
 */
const handedOut = new Set<number>();

/**
 * n distinct free ports, for a set of children bound at once (a compose project publishes 14):
 * each is checked free, and none is handed out twice.
 */
export async function freePorts(n: number): Promise<number[]> {
  const [low, span] = portWindow();
  if (handedOut.size + n > span / 2) handedOut.clear();
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n && tries < 100 * n; tries++) {
    const port = low + Math.floor(Math.random() * span);
    if (!ports.has(port) && !handedOut.has(port) && (await canListen(port))) ports.add(port);
  }
  while (ports.size < n) ports.add(await listenAny());
  for (const p of ports) handedOut.add(p);
  return [...ports];
}

/** [first port, how many] below the ephemeral range (Linux: ip_local_port_range). */
function portWindow(): [number, number] {
  let ephemeralLow = 32768;
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    if (Number.isInteger(first) && first > 0) ephemeralLow = first;
  } catch {
    // not Linux: the IANA dynamic range starts at 49152, 32768 is below it either way
  }
  const low = Math.max(10_000, ephemeralLow - 12_000);
  return ephemeralLow - low >= 1_000 ? [low, ephemeralLow - low] : [20_000, 12_000];
}

/** Whether a server can listen on port (127.0.0.1) right now: nothing holds it. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function listenAny(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
