// The ports `warren up` needs, checked before any child starts, so a taken port is reported by
// the variable that sets it instead of surfacing later as a child's crash.
import { createServer } from 'node:net';
import { WarrenError } from '../errors.js';

export interface PortWish {
  /** Who uses it, e.g. "ingest-2". */
  who: string;
  /** The setting behind it, e.g. "INGEST_PORT+1". */
  variable: string;
  /** 0 = any free port. */
  port: number;
}

export interface PortPlan {
  who: string;
  variable: string;
  port: number;
}

/** Binds and releases host:port; resolves the port bound, or rejects with the socket error. */
function probe(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host, port, exclusive: true }, () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : port;
      srv.close(() => resolve(bound));
    });
  });
}

function portError(w: PortWish, err: unknown): WarrenError {
  const code = (err as { code?: string }).code;
  const base = w.variable.replace(/\+\d+$/, '');
  if (code === 'EADDRINUSE') {
    return new WarrenError(
      'config',
      `port ${w.port} (${w.variable}, for ${w.who}) is already in use; stop what holds it or set ${base}`,
    );
  }
  if (code === 'EACCES') {
    return new WarrenError(
      'config',
      `port ${w.port} (${w.variable}, for ${w.who}) needs privileges; choose a port above 1023 with ${base}`,
    );
  }
  return new WarrenError('config', `cannot use port ${w.port} (${w.variable}): ${String(err)}`, {
    cause: err,
  });
}

/**
 * Checks every wished port on host and picks free ones for those set to 0. Two parts asking for
 * the same port is reported too (e.g. PANEL_PORT equal to ANALYTICS_PORT).
 */
export async function planPorts(host: string, wishes: PortWish[]): Promise<PortPlan[]> {
  const out: PortPlan[] = [];
  const taken = new Map<number, PortWish>();
  for (const w of wishes) {
    if (w.port !== 0) {
      const other = taken.get(w.port);
      if (other) {
        throw new WarrenError(
          'config',
          `port ${w.port} is asked for twice: ${other.variable} (${other.who}) and ${w.variable} (${w.who}); give each its own`,
        );
      }
    }
    let port: number;
    try {
      port = await probe(host, w.port);
    } catch (err) {
      throw portError(w, err);
    }
    // A port picked by the OS could repeat one chosen earlier only after release; ask again.
    while (taken.has(port) && w.port === 0) port = await probe(host, 0);
    taken.set(port, w);
    out.push({ who: w.who, variable: w.variable, port });
  }
  return out;
}
