// The report answers as cache views (cache.ts): each is built from the store's rows, takes the
// groups of later commits, and writes the same JSON a fresh computation would, byte for byte
// (test/report-views.test.ts checks it against the store after random commits).
import {
  BUCKET_SECONDS,
  type Bucket,
  byCountThenName,
  type ClientReport,
  type ClientTotal,
  type CountedGroup,
  eventosJson,
  type Filter,
  type Point,
} from '../store/index.js';
import type { View } from './cache.js';
import { iso } from './query.js';

/** Whether a commit's group counts in a report of this filter (a bucket is in a range by its start). */
export function inFilter(f: Filter, g: CountedGroup): boolean {
  return (
    (f.from === undefined || g.t >= f.from) &&
    (f.to === undefined || g.t < f.to) &&
    (f.cliente === undefined || g.cliente === f.cliente) &&
    (f.evento === undefined || g.evento === f.evento)
  );
}

/** A body kept until the next change; size() counts it with the structure behind it. */
abstract class BaseView implements View {
  private out: Buffer | undefined;
  protected abstract write(): string | Buffer;
  protected abstract add(g: CountedGroup): boolean;
  /** Bytes of the structure besides the body, roughly. */
  protected abstract structureBytes(): number;

  /** Whether a group makes this view impossible to bring up to date (see View.apply). */
  protected stale(_g: CountedGroup): boolean {
    return false;
  }

  apply(groups: readonly CountedGroup[]): boolean {
    if (groups.some((g) => this.stale(g))) return false;
    let changed = false;
    for (const g of groups) if (this.add(g)) changed = true;
    if (changed) this.out = undefined;
    return true;
  }

  /** Takes a body written elsewhere (a read worker) as this view's current one. */
  protected adoptBody(b: Buffer): void {
    this.out = b;
  }

  body(): Buffer {
    if (!this.out) {
      const w = this.write();
      this.out = typeof w === 'string' ? Buffer.from(w) : w;
    }
    return this.out;
  }

  size(): number {
    return (this.out?.length ?? 0) + this.structureBytes();
  }
}

/** GET /reporte: `{"total", "clientes": {name: count}}`, largest first. */
export class ReporteView extends BaseView {
  private readonly counts = new Map<string, number>();
  private total = 0;

  constructor(rows: ClientTotal[]) {
    super();
    for (const r of rows) {
      const n = Number(r.count);
      if (n === 0) continue;
      this.counts.set(r.cliente, n);
      this.total += n;
    }
  }

  protected add(g: CountedGroup): boolean {
    this.counts.set(g.cliente, (this.counts.get(g.cliente) ?? 0) + g.n);
    this.total += g.n;
    return true;
  }

  protected write(): string {
    const clientes: Record<string, number> = {};
    for (const [name, n] of [...this.counts].sort(byCountThenName)) clientes[name] = n;
    return JSON.stringify({ total: this.total, clientes });
  }

  protected structureBytes(): number {
    return this.counts.size * 80;
  }
}

interface ClientEntry {
  cliente: string;
  total: number;
  /** Distinct users in the range; undefined when none of its events carries one. */
  usuarios: number | undefined;
  /** The events as the store wrote them, until a commit touches this client. */
  eventosJson: string | undefined;
  /** The events, read from eventosJson once a commit touches this client. */
  eventos: Map<string, number> | undefined;
  /** This client's object in the answer (UTF-8), written once until it changes. */
  out: Buffer | undefined;
}

const COMMA = Buffer.from(',');

/**
 * A report's body as a read worker wrote it, with where each client's object lies in it (in the
 * answer's order), so the main thread keeps the pieces without writing them again.
 */
export interface ReportLayout {
  body: Uint8Array;
  order: string[];
  starts: Uint32Array;
  ends: Uint32Array;
}

/**
 * GET /api/v1/report: `{"from", "to", "total", "clientes": [{"cliente", "total", "eventos"}]}`,
 * clients and their events largest first. The store groups the lines per client (each client's
 * events as JSON text); each client's JSON is kept, so after a commit only the clients it touched
 * are written again, and the answer is those pieces joined in order.
 */
export class ReportView extends BaseView {
  private readonly clients = new Map<string, ClientEntry>();
  private order: ClientEntry[] | undefined;
  private total = 0;
  /** Bytes before the first client's object in the last body written. */
  private headBytes = 0;

  constructor(
    private readonly filter: Filter,
    lines: ClientReport[],
  ) {
    super();
    for (const l of lines) {
      const total = Number(l.total);
      if (total === 0) continue;
      this.total += total;
      this.clients.set(l.cliente, {
        cliente: l.cliente,
        total,
        usuarios: l.usuarios === undefined ? undefined : Number(l.usuarios),
        eventosJson: l.eventos,
        eventos: undefined,
        out: undefined,
      });
    }
  }

  /** Users came into the range: only the sketches know how many were new. */
  protected override stale(g: CountedGroup): boolean {
    return g.users !== undefined && g.users > 0 && inFilter(this.filter, g);
  }

  protected add(g: CountedGroup): boolean {
    if (!inFilter(this.filter, g)) return false;
    let c = this.clients.get(g.cliente);
    if (!c) {
      c = {
        cliente: g.cliente,
        total: 0,
        usuarios: undefined,
        eventosJson: undefined,
        eventos: new Map(),
        out: undefined,
      };
      this.clients.set(g.cliente, c);
    }
    c.eventos ??= new Map(Object.entries(JSON.parse(c.eventosJson ?? '{}') as Record<string, number>));
    c.eventosJson = undefined;
    c.eventos.set(g.evento, (c.eventos.get(g.evento) ?? 0) + g.n);
    c.total += g.n;
    this.total += g.n;
    c.out = undefined;
    this.order = undefined;
    return true;
  }

  /** The body and where each client's object lies in it (reader.ts sends it across threads). */
  layout(): ReportLayout {
    const body = this.body();
    const order = this.order ?? [];
    const starts = new Uint32Array(order.length);
    const ends = new Uint32Array(order.length);
    let pos = this.headBytes;
    order.forEach((c, i) => {
      starts[i] = pos;
      pos += c.out?.length ?? 0;
      ends[i] = pos;
      pos += COMMA.length;
    });
    return { body, order: order.map((c) => c.cliente), starts, ends };
  }

  /**
   * The view over the same lines whose body a read worker already wrote (layout()): the body
   * and each client's bytes are slices of the bytes received, so nothing is written again here.
   */
  static restore(filter: Filter, lines: ClientReport[], layout: ReportLayout): ReportView {
    const v = new ReportView(filter, lines);
    const order = layout.order.map((name) => v.clients.get(name));
    if (order.length !== v.clients.size || order.some((c) => c === undefined)) return v;
    const body = Buffer.from(layout.body.buffer, layout.body.byteOffset, layout.body.byteLength);
    order.forEach((c, i) => {
      if (c) c.out = body.subarray(layout.starts[i], layout.ends[i]);
    });
    v.order = order as ClientEntry[];
    v.adoptBody(body);
    return v;
  }

  protected write(): Buffer {
    this.order ??= [...this.clients.values()].sort(
      (a, b) => b.total - a.total || (a.cliente < b.cliente ? -1 : a.cliente > b.cliente ? 1 : 0),
    );
    // The answer is the clients' kept bytes joined: only the clients a commit touched are
    // written and encoded again.
    const head = JSON.stringify({ from: iso(this.filter.from), to: iso(this.filter.to), total: this.total });
    const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)},"clientes":[`)];
    this.headBytes = parts[0]?.length ?? 0;
    this.order.forEach((c, i) => {
      if (c.out === undefined) {
        c.eventosJson ??= eventosJson([...(c.eventos ?? new Map<string, number>())].sort(byCountThenName));
        c.out = Buffer.from(
          `{"cliente":${JSON.stringify(c.cliente)},"total":${c.total},` +
            `${c.usuarios === undefined ? '' : `"usuarios":${c.usuarios},`}"eventos":${c.eventosJson}}`,
        );
      }
      if (i > 0) parts.push(COMMA);
      parts.push(c.out);
    });
    parts.push(Buffer.from(']}'));
    return Buffer.concat(parts);
  }

  protected structureBytes(): number {
    let n = 0;
    for (const c of this.clients.values()) {
      // Measured: a 10,000-client answer holds about 7 MB of heap and 15 MB of buffers (small
      // Buffers share 8 KB pool slabs) besides its 3.3 MB body.
      n += 300 + 4 * ((c.out?.length ?? 0) + (c.eventosJson?.length ?? 0)) + (c.eventos?.size ?? 0) * 60;
    }
    return n;
  }
}

/** GET /api/v1/timeseries: `{"bucket", "from", "to", "points": [{"t", "count"}]}`, oldest first. */
export class TimeseriesView extends BaseView {
  private readonly points = new Map<number, number>();
  private readonly size_: number;

  constructor(
    private readonly filter: Filter,
    private readonly bucket: Bucket,
    rows: Point[],
  ) {
    super();
    this.size_ = BUCKET_SECONDS[bucket];
    for (const p of rows) this.points.set(Number(p.t), Number(p.count));
  }

  protected add(g: CountedGroup): boolean {
    if (!inFilter(this.filter, g)) return false;
    const t = Math.floor(g.t / this.size_) * this.size_;
    this.points.set(t, (this.points.get(t) ?? 0) + g.n);
    return true;
  }

  protected write(): string {
    const points = [...this.points].sort((a, b) => a[0] - b[0]).map(([t, count]) => ({ t: iso(t), count }));
    return JSON.stringify({
      bucket: this.bucket,
      from: iso(this.filter.from),
      to: iso(this.filter.to),
      points,
    });
  }

  protected structureBytes(): number {
    return this.points.size * 40;
  }
}
