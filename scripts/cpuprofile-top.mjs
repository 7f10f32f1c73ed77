// Summarises a V8 CPU profile (node --cpu-prof, `warren bench --profile DIR`): the functions with
// the most self time, and the total (inclusive) time of every function whose name or file matches
// a pattern. Usage: node scripts/cpuprofile-top.mjs FILE [top N] [pattern ...]
import { readFileSync } from 'node:fs';

const [file, topArg, ...patterns] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node scripts/cpuprofile-top.mjs FILE [top N] [pattern ...]\n');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i + 1] ?? 0;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
}
const label = (n) => {
  const f = n.callFrame;
  const where = f.url
    ? `${f.url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|dist)\//, '$1/')}:${f.lineNumber + 1}`
    : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};
let total = 0;
let idle = 0;
const selfBy = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  total += t;
  if (['(idle)', '(program)'].includes(n.callFrame.functionName)) idle += t;
  selfBy.set(label(n), (selfBy.get(label(n)) ?? 0) + t);
}
const busy = total - idle;
const ms = (t) => (t / 1000).toFixed(0).padStart(7);
const pct = (t) => ((100 * t) / busy).toFixed(1).padStart(5);
console.log(`busy ${ms(busy)} ms of ${ms(total)} ms sampled (idle and program excluded from %)`);
for (const [k, t] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 30)))
  console.log(`${ms(t)} ms ${pct(t)}%  ${k}`);
for (const pattern of patterns) {
  const re = new RegExp(pattern);
  let t = 0;
  for (const [id, s] of self) {
    // Counted once per sample if any frame on its stack matches.
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      if (re.test(label(byId.get(cur)))) {
        t += s;
        break;
      }
    }
  }
  console.log(`inclusive ${ms(t)} ms ${pct(t)}%  /${pattern}/`);
}
