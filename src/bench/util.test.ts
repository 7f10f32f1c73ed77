// treeCpuS counts a process's children, live and ended: analytics' SQLite reads run in child
// processes, and the bench's CPU figure for analytics must include them. CpuMeter.host() splits
// the machine's cores into busy, idle, iowait and steal over the same interval.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { it } from 'node:test';
import { CpuMeter, treeCpuS } from './util.js';

const BURN = 'const t = Date.now(); while (Date.now() - t < 400) {} process.stdout.write("done");';

it("includes its children's CPU, while they run and after they ended", async () => {
  const before = treeCpuS(process.pid)!;
  const own = process.cpuUsage();
  const child = spawn(process.execPath, ['-e', BURN], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data'); // it burned its 400 ms and is still alive
  const live = treeCpuS(process.pid)!;
  await once(child, 'exit');
  const ended = treeCpuS(process.pid)!;
  const mine = (process.cpuUsage(own).user + process.cpuUsage(own).system) / 1e6;
  assert.ok(live - before - mine >= 0.2, `live child counted: ${live - before - mine} s`);
  assert.ok(ended - before - mine >= 0.2, `ended child counted: ${ended - before - mine} s`);
});

it("splits the machine's cores into busy, idle, iowait and steal, summing to its core count", () => {
  const meter = new CpuMeter({});
  const t = performance.now();
  while (performance.now() - t < 500) {} // one core busy for half a second
  const host = meter.host();
  assert.ok(host, '/proc/stat is read');
  const own = meter.read().bench!;
  assert.ok(
    host.busy >= own - 0.1,
    `the machine's busy cores (${host.busy}) include this process's (${own})`,
  );
  assert.ok(own >= 0.5, `this process kept about one core busy (${own})`);
  const sum = host.busy + host.idle + host.iowait + host.steal;
  const cores = availableParallelism();
  assert.ok(Math.abs(sum - cores) <= 0.25 * cores, `busy + idle + iowait + steal = ${sum}, cores ${cores}`);
});
