// The page's text in English and Spanish. The language comes from a saved choice, else from
// navigator.languages; the header's button switches it without a reload.

const en = {
  'page.title': 'Warren · events dashboard',
  'brand.tagline': 'Events dashboard',
  'lang.switch': 'Español',
  'lang.switchLabel': 'Cambiar a español',
  'filters.label': 'Filters',
  'range.legend': 'Range',
  'range.15m': '15 min',
  'range.1h': '1 hour',
  'range.24h': '24 hours',
  'range.7d': '7 days',
  'range.15m.in': 'in the last 15 minutes',
  'range.1h.in': 'in the last hour',
  'range.24h.in': 'in the last 24 hours',
  'range.7d.in': 'in the last 7 days',
  'client.label': 'Client',
  'client.all': 'All clients',
  'tiles.label': 'Headline figures',
  'tile.total': 'Events in range',
  'tile.totalNote': '{range}',
  'tile.eps': 'Events per second',
  'tile.epsNote': 'now, all clients (last 5 s)',
  'tile.clients': 'Clients seen',
  'tile.clientsNote': 'in range',
  'tile.types': 'Event types',
  'tile.typesNote': '{client}, in range',
  'tile.dups': 'Duplicates dropped',
  'tile.dupsNote': 'since analytics started',
  'tile.dlq': 'Dead letters waiting',
  'tile.dlqNote': 'warren dlq list shows why',
  'tile.dlqKinds': '{valid} valid, replayable (warren dlq replay --all) · {invalid} invalid',
  'tile.queue': 'Queue depth',
  'tile.consumers0': 'no consumer!',
  'tile.consumers1': '1 consumer',
  'tile.consumersN': '{n} consumers',
  'tile.unknown': 'unknown',
  'tile.users': 'Users in range',
  'tile.usersNote': 'distinct usuario {range}',
  'tile.usersNone': 'no event {range} carries a usuario',
  'time.title': 'Events over time',
  'time.perMinute': 'per minute, by event time',
  'time.perHour': 'per hour, by event time',
  'time.summary': '{total} events {range}; busiest {bucket}: {peak} at {at}.',
  'time.summaryEmpty': 'No events {range}.',
  'time.minute': 'minute',
  'time.hour': 'hour',
  'time.readout': '{at}: {n} events',
  'time.readoutUsers': '{at}: {n} events, {u} users',
  'time.events': 'Events',
  'time.users': 'Users',
  'time.legend': 'Lines',
  'time.usersSummary': 'Users: {users} distinct {range}; most in one {bucket}: {peak} at {at}.',
  'bars.title': 'Events per client',
  'bars.note': 'largest first; select one to filter',
  'bars.others': '{n} other clients',
  'bars.users': '{n} users',
  'bars.user1': '1 user',
  'bars.filter': 'Show only {client}',
  'bars.unfilter': 'Show all clients again',
  'table.title': 'Event types per client',
  'table.client': 'Client',
  'table.event': 'Event',
  'table.count': 'Count',
  'table.share': 'Share of client',
  'table.more': 'Showing the first {shown} of {n} rows.',
  'table.none': 'No events in range.',
  'empty.title': 'No events yet',
  'empty.body': 'Send a first event through the gateway, and it shows up here within a second:',
  'empty.client': 'Or start a simulated client:',
  'empty.rangeTitle': 'No events {range}',
  'empty.rangeBody': 'Pick a longer range, or send a new event:',
  'copy.label': 'Copy',
  'copy.done': 'Copied',
  'state.connecting': 'Connecting…',
  'state.live': 'Live',
  'state.liveDetail': 'updated {time}',
  'state.polling': 'Live stream reconnecting',
  'state.pollingDetail': 'figures refresh every 5 s; updated {time}',
  'state.down': 'Analytics is not answering',
  'state.panelDown': 'The panel server is not answering',
  'state.downDetail': 'Figures shown are from {time} and may be stale. Retrying by itself…',
  'state.never': 'never',
  'footer.note': 'Counts by event time in UTC buckets, shown in your time zone.',
};

type Key = keyof typeof en;
export type Lang = 'en' | 'es';

const es: Record<Key, string> = {
  'page.title': 'Warren · panel de eventos',
  'brand.tagline': 'Panel de eventos',
  'lang.switch': 'English',
  'lang.switchLabel': 'Switch to English',
  'filters.label': 'Filtros',
  'range.legend': 'Periodo',
  'range.15m': '15 min',
  'range.1h': '1 hora',
  'range.24h': '24 horas',
  'range.7d': '7 días',
  'range.15m.in': 'en los últimos 15 minutos',
  'range.1h.in': 'en la última hora',
  'range.24h.in': 'en las últimas 24 horas',
  'range.7d.in': 'en los últimos 7 días',
  'client.label': 'Cliente',
  'client.all': 'Todos los clientes',
  'tiles.label': 'Cifras principales',
  'tile.total': 'Eventos en el periodo',
  'tile.totalNote': '{range}',
  'tile.eps': 'Eventos por segundo',
  'tile.epsNote': 'ahora, todos los clientes (últimos 5 s)',
  'tile.clients': 'Clientes vistos',
  'tile.clientsNote': 'en el periodo',
  'tile.types': 'Tipos de evento',
  'tile.typesNote': '{client}, en el periodo',
  'tile.dups': 'Duplicados descartados',
  'tile.dupsNote': 'desde que arrancó analytics',
  'tile.dlq': 'Mensajes en la cola de descarte',
  'tile.dlqNote': 'warren dlq list explica por qué',
  'tile.dlqKinds': '{valid} válidos, reinyectables (warren dlq replay --all) · {invalid} no válidos',
  'tile.queue': 'Mensajes en cola',
  'tile.consumers0': '¡sin consumidor!',
  'tile.consumers1': '1 consumidor',
  'tile.consumersN': '{n} consumidores',
  'tile.unknown': 'desconocido',
  'tile.users': 'Usuarios en el periodo',
  'tile.usersNote': 'usuario distintos {range}',
  'tile.usersNone': 'ningún evento {range} lleva usuario',
  'time.title': 'Eventos en el tiempo',
  'time.perMinute': 'por minuto, según la hora del evento',
  'time.perHour': 'por hora, según la hora del evento',
  'time.summary': '{total} eventos {range}; {bucket} con más eventos: {peak} a las {at}.',
  'time.summaryEmpty': 'Ningún evento {range}.',
  'time.minute': 'minuto',
  'time.hour': 'hora',
  'time.readout': '{at}: {n} eventos',
  'time.readoutUsers': '{at}: {n} eventos, {u} usuarios',
  'time.events': 'Eventos',
  'time.users': 'Usuarios',
  'time.legend': 'Líneas',
  'time.usersSummary': 'Usuarios: {users} distintos {range}; máximo en un {bucket}: {peak} a las {at}.',
  'bars.title': 'Eventos por cliente',
  'bars.note': 'de mayor a menor; elige uno para filtrar',
  'bars.others': 'otros {n} clientes',
  'bars.users': '{n} usuarios',
  'bars.user1': '1 usuario',
  'bars.filter': 'Mostrar solo {client}',
  'bars.unfilter': 'Volver a mostrar todos los clientes',
  'table.title': 'Tipos de evento por cliente',
  'table.client': 'Cliente',
  'table.event': 'Evento',
  'table.count': 'Cantidad',
  'table.share': 'Parte del cliente',
  'table.more': 'Se muestran las primeras {shown} de {n} filas.',
  'table.none': 'Ningún evento en el periodo.',
  'empty.title': 'Aún no hay eventos',
  'empty.body': 'Envía un primer evento a través de la pasarela y aparecerá aquí en menos de un segundo:',
  'empty.client': 'O arranca un cliente simulado:',
  'empty.rangeTitle': 'Ningún evento {range}',
  'empty.rangeBody': 'Elige un periodo más largo o envía un evento nuevo:',
  'copy.label': 'Copiar',
  'copy.done': 'Copiado',
  'state.connecting': 'Conectando…',
  'state.live': 'En directo',
  'state.liveDetail': 'actualizado a las {time}',
  'state.polling': 'Reconectando el directo',
  'state.pollingDetail': 'las cifras se actualizan cada 5 s; actualizado a las {time}',
  'state.down': 'Analytics no responde',
  'state.panelDown': 'El servidor del panel no responde',
  'state.downDetail': 'Las cifras son de las {time} y pueden estar desfasadas. Se reintenta solo…',
  'state.never': 'nunca',
  'footer.note': 'Recuento por hora del evento en intervalos UTC, mostrados en tu zona horaria.',
};

const dictionaries: Record<Lang, Record<Key, string>> = { en, es };
let current: Lang = 'en';

export function detectLanguage(saved: string | null, preferred: readonly string[]): Lang {
  if (saved === 'en' || saved === 'es') return saved;
  for (const l of preferred) {
    const base = l.toLowerCase().slice(0, 2);
    if (base === 'es' || base === 'en') return base;
  }
  return 'en';
}

export function setLanguage(lang: Lang): void {
  current = lang;
  document.documentElement.lang = lang;
  document.title = t('page.title');
  for (const el of document.querySelectorAll<HTMLElement>('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n as Key);
  }
  for (const el of document.querySelectorAll<HTMLElement>('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel as Key));
  }
}

export function language(): Lang {
  return current;
}

/** The text for key in the current language, with {name} placeholders filled. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const text = dictionaries[current][key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`));
}

export type { Key as TextKey };
