// warren.js, the browser snippet (built by scripts/build-snippet.mjs into one minified file):
//
//   <script src="https://warren.example.com/warren.js" data-cliente="web" defer></script>
//   warren.track('click');
//
// Events are batched in memory and POSTed to <origin of the script>/events (or data-url) with
// fetch keepalive. When the page is hidden or goes away, what is left goes by navigator.sendBeacon.
// Every event carries an id (UUID v7), and every batch stays in sessionStorage until a 202 says
// the broker has it: the next page of the same tab sends again what was not confirmed (beaconed
// batches included, whose outcome a page never learns). The same id of the same client is counted once, so a
// resend never counts twice.
//
// Users (README "Unique users"): every event carries a usuario, the one warren.identify() set or
// else an anonymous id of this browser: a random UUID kept in localStorage under `warren:anon`
// (first-party storage of the site's origin, never a cookie, never sent anywhere but Warren, and
// unreadable by other sites), so a returning visitor is one user. Where storage is unavailable
// (blocked, private mode) it is a new id per page load. `data-anonymous="off"` turns it off: then
// only identify()'s usuario is sent.

interface Ev {
  id: string;
  cliente: string;
  evento: string;
  timestamp: string;
  usuario?: string;
}

interface Api {
  track(evento: string, opts?: { cliente?: string }): string | undefined;
  flush(): void;
  /** The actor of the events tracked from now on on this page; undefined: the anonymous id again. */
  identify(usuario?: string): void;
  /** Events tracked before the script loaded: `window.warren = {q: []}` stubs push names here. */
  q?: string[];
}

declare global {
  interface Window {
    warren?: Api;
  }
}

(() => {
  const script = document.currentScript as HTMLScriptElement | null;
  const data = script?.dataset ?? {};
  const base = data.url ?? (script?.src ? new URL(script.src).origin : location.origin);
  const endpoint = `${base.replace(/\/+$/, '')}/events`;
  const cliente = data.cliente ?? 'web';
  const EVENTO = /^[A-Za-z0-9_.:-]{1,64}$/;
  const CLIENTE = /^[A-Za-z0-9_.-]{1,64}$/;
  const BATCH = 100;
  // fetch keepalive and sendBeacon share a 64 KiB budget of bytes in flight per page.
  const BATCH_BYTES = 30_000;
  const MAX_HELD = 2000;
  const KEY = `warren:${endpoint}`;
  // CONTRACT.md, "Event": 1-128 characters, no control characters (event.ts USUARIO_RE).
  const USUARIO = /^[^\p{Cc}\p{Cs}\p{Cn}\p{Zl}\p{Zp}]{1,128}$/u;
  let usuario: string | undefined;
  let queue: Ev[] = [];
  /** Posted, waiting for the answer. */
  const sent = new Map<string, Ev[]>();
  /** Beaconed: the outcome is never known, so they are kept for the next page to send again. */
  let beaconed: Ev[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;

  const warn = (msg: string) => console.warn(`warren: ${msg}`);

  function uuid7(): string {
    const b = crypto.getRandomValues(new Uint8Array(16));
    let t = Date.now();
    for (let i = 5; i >= 0; i--) {
      b[i] = t % 256;
      t = Math.floor(t / 256);
    }
    b[6] = (b[6]! & 0x0f) | 0x70; // version 7 (RFC 9562 §5.7)
    b[8] = (b[8]! & 0x3f) | 0x80; // variant 10
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** This browser's anonymous id (kept in localStorage), or one for this page load. */
  function anonymous(): string | undefined {
    if (data.anonymous === 'off') return undefined;
    const fresh = () => `anon-${crypto.randomUUID ? crypto.randomUUID() : uuid7()}`;
    try {
      let id = localStorage.getItem('warren:anon');
      if (!id || !USUARIO.test(id)) {
        id = fresh();
        localStorage.setItem('warren:anon', id);
      }
      return id;
    } catch {
      return fresh();
    }
  }

  function identify(u?: string): void {
    if (u === undefined || u === null) usuario = anonymous();
    else if (USUARIO.test(String(u))) usuario = String(u);
    else warn('identify(): usuario is 1-128 characters, no control characters; ignored');
  }

  function held(): Ev[] {
    return queue.concat(...sent.values());
  }

  function persist(): void {
    try {
      const all = held().concat(beaconed);
      if (all.length) sessionStorage.setItem(KEY, JSON.stringify(all));
      else sessionStorage.removeItem(KEY);
    } catch {
      // storage off (privacy mode) or full: delivery still works, only not across pages
    }
  }

  function schedule(ms: number): void {
    clearTimeout(timer);
    timer = setTimeout(flush, ms);
  }

  /** The next batch: up to BATCH events and BATCH_BYTES of JSON. */
  function take(): Ev[] {
    let bytes = 2;
    let n = 0;
    while (n < queue.length && n < BATCH) {
      bytes += JSON.stringify(queue[n]).length + 1;
      if (n > 0 && bytes > BATCH_BYTES) break;
      n++;
    }
    return queue.splice(0, n);
  }

  function retry(batch: Ev[], retryAfter: string | null): void {
    queue = batch.concat(queue); // same ids: the resend is counted once
    failures++;
    const s = Number(retryAfter);
    schedule(s > 0 ? s * 1000 : Math.min(30_000, 500 * 2 ** failures) * (0.5 + Math.random() / 2));
  }

  function post(batch: Ev[], body: string): void {
    const key = batch[0]!.id;
    sent.set(key, batch);
    fetch(endpoint, {
      method: 'POST',
      keepalive: true,
      credentials: 'omit',
      headers: { 'content-type': 'application/json' },
      body,
    }).then(
      (res) => {
        sent.delete(key);
        if (res.ok) failures = 0;
        else if (res.status === 408 || res.status === 429 || res.status >= 500) {
          retry(batch, res.headers.get('retry-after'));
        } else warn(`the gateway refused ${batch.length} events (HTTP ${res.status}); they are dropped`);
        persist();
      },
      () => {
        sent.delete(key);
        retry(batch, null);
        persist();
      },
    );
  }

  /** Sends everything queued; by sendBeacon when the page is going away. */
  function flush(leaving?: unknown): void {
    clearTimeout(timer);
    timer = undefined;
    while (queue.length) {
      const batch = take();
      const body = JSON.stringify(batch);
      let ok = false;
      if (leaving === true && navigator.sendBeacon) {
        try {
          ok = navigator.sendBeacon(endpoint, new Blob([body], { type: 'application/json' }));
        } catch {
          ok = false;
        }
      }
      if (ok) beaconed = beaconed.concat(batch).slice(-MAX_HELD);
      else post(batch, body);
    }
    persist();
  }

  function track(evento: string, opts?: { cliente?: string }): string | undefined {
    const c = opts?.cliente ?? cliente;
    if (!EVENTO.test(evento) || !CLIENTE.test(c)) {
      warn(
        `not tracked: evento and cliente are 1-64 characters of A-Z a-z 0-9 _ . : - (got ${evento}, ${c})`,
      );
      return undefined;
    }
    if (held().length >= MAX_HELD) {
      warn(`not tracked: ${MAX_HELD} events are waiting for the gateway (${endpoint})`);
      return undefined;
    }
    const ev: Ev = { id: uuid7(), cliente: c, evento, timestamp: new Date().toISOString() };
    if (usuario) ev.usuario = usuario;
    queue.push(ev);
    if (queue.length >= BATCH) flush();
    else if (!timer) schedule(1000);
    return ev.id;
  }

  // What an earlier page of this tab left unconfirmed goes first.
  try {
    const left = JSON.parse(sessionStorage.getItem(KEY) ?? '[]') as Ev[];
    if (Array.isArray(left)) queue = left.slice(-MAX_HELD);
  } catch {
    // nothing usable stored
  }
  usuario = anonymous();
  const stub = window.warren;
  window.warren = { track, flush, identify };
  for (const e of stub?.q ?? []) track(e);
  if (queue.length) schedule(0);
  addEventListener('pagehide', () => flush(true));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flush(true);
  });
})();

export {};
