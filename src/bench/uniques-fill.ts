// Fills a store with the unique-users stage's data through the consumer's own commit (store.commit:
// counters, ids and sketches in one transaction), then runs the real retention pass so old data
// sits in hour and day buckets as it does in production.
import type { ParsedEvent } from '../event.js';
import { cutoffs, type RetentionSettings, retentionPass, type Store } from '../store/index.js';
import type { Progress } from './progress.js';
import { clienteName, type Data, eventoName, usuarioName } from './uniques-data.js';

/** Events per commit: a consumer's batch is smaller, but the fill should take minutes, not hours. */
const FILL_BATCH = 10_000;

export async function fillUniques(
  store: Store,
  data: Data,
  progress: Progress,
  label: string,
): Promise<void> {
  const { ms, user, type, spec } = data;
  const total = ms.length;
  for (let done = 0; done < total; ) {
    const n = Math.min(FILL_BATCH, total - done);
    const batch: ParsedEvent[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const k = done + i;
      const u = user[k]!;
      batch[i] = {
        id: `u-${k}`,
        cliente: clienteName(u % spec.clients),
        evento: eventoName(type[k]!),
        timestamp: new Date(ms[k]!).toISOString(),
        ms: ms[k]!,
        usuario: usuarioName(u),
      };
    }
    await store.commit(batch);
    done += n;
    if (done % 100_000 < FILL_BATCH || done === total)
      progress.update(
        `${label}: committed ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`,
      );
  }
}

/** The retention pass at the data's "now"; returns where each event's bucket starts (epoch ms). */
export async function rollUp(
  store: Store,
  data: Data,
  settings: RetentionSettings,
): Promise<(ms: number) => number> {
  const now = Math.floor(data.spec.now / 1000);
  await retentionPass(store, settings, { now });
  return bucketStartOf(now, settings);
}

export function bucketStartOf(nowS: number, settings: RetentionSettings): (ms: number) => number {
  const cut = cutoffs(nowS, settings, undefined);
  const minute = cut.minute * 1000;
  const hour = cut.hour * 1000;
  return (t) => {
    const size = t < hour ? 86_400_000 : t < minute ? 3_600_000 : 60_000;
    return Math.floor(t / size) * size;
  };
}
