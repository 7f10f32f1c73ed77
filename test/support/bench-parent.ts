// A stand-in for `warren bench` in test/bench-children.test.ts: starts one measured child the way
// the benchmark does (src/bench/child.ts), prints its pid, then waits to be killed.
import { spawnWarren } from '../../src/bench/child.js';

const [port, dir] = process.argv.slice(2);
const env = JSON.parse(process.env.BENCH_CHILD_ENV ?? '{}') as Record<string, string>;
const child = await spawnWarren({
  name: 'analytics',
  command: 'analytics',
  port: Number(port),
  env,
  dir: dir!,
});
process.stdout.write(`${child.pid}\n`);
setInterval(() => undefined, 60_000);
