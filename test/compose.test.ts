// docker-compose.yml, checked statically (no Docker engine here): it parses, its Traefik labels
// give the same routers, rules, middlewares and ports as the file-provider config `warren up`
// renders (plus basic auth on the panel and reports), it holds no guest credentials, no default
// secret and never api.insecure, private ports listen on 127.0.0.1 unless moved; .env.example lists
// every setting; the Dockerfile copies what exists (the SQL migrations too), runs bin/warren.js
// as a non-root user and checks /readyz. `npm run test:compose` runs the file for real.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { settings } from '../src/config.js';
import {
  INGEST_HEALTH_CHECK,
  INGEST_RETRY,
  renderDynamic,
  renderStatic,
} from '../src/stack/traefik-config.js';
import { ROOT, warren } from './support/helpers.js';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  labels?: string[] | Record<string, string>;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  restart?: string;
  profiles?: string[];
  volumes?: string[];
}

const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
const compose = parse(text, { merge: true }) as { services: Record<string, Service>; volumes: object };
const services = compose.services;

/** Docker labels of one service as key → value (list or map form). */
function labelsOf(s: Service): Record<string, string> {
  if (!s.labels) return {};
  if (!Array.isArray(s.labels)) return s.labels;
  return Object.fromEntries(
    s.labels.map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 1)];
    }),
  );
}

interface LabelRouter {
  rule?: string;
  entryPoints?: string[];
  service?: string;
  middlewares?: string[];
  owner: string;
}

/** Routers, middlewares and services that the Docker provider would build from every label. */
function traefikFromLabels() {
  const routers: Record<string, LabelRouter> = {};
  const middlewares: Record<string, Record<string, string>> = {};
  const lbs: Record<string, Record<string, string> & { owner: string }> = {};
  for (const [name, s] of Object.entries(services)) {
    const labels = labelsOf(s);
    if (Object.keys(labels).length) assert.equal(labels['traefik.enable'], 'true', `${name}: traefik.enable`);
    for (const [key, value] of Object.entries(labels)) {
      const [, , kind, id, ...rest] = key.split('.');
      if (key.startsWith('traefik.http.routers.') && kind === 'routers' && id) {
        const r = routers[id] ?? { owner: name };
        routers[id] = r;
        const field = rest.join('.');
        if (field === 'rule') r.rule = value;
        else if (field === 'entrypoints') r.entryPoints = value.split(',');
        else if (field === 'service') r.service = value;
        else if (field === 'middlewares') r.middlewares = value.split(',');
        else assert.fail(`unexpected router label ${key}`);
      } else if (key.startsWith('traefik.http.middlewares.') && id) {
        middlewares[id] = { ...middlewares[id], [rest.join('.')]: value };
      } else if (key.startsWith('traefik.http.services.') && id) {
        lbs[id] = { ...lbs[id], owner: name, [rest.join('.')]: value } as (typeof lbs)[string];
      }
    }
  }
  return { routers, middlewares, lbs };
}

const rendered = renderDynamic({
  host: '',
  proxyPort: 80,
  apiPort: Number(settings.traefikApiPort.default),
  panelUrl: 'http://panel',
  analyticsUrl: 'http://analytics',
  ingestUrls: ['http://ingest-1', 'http://ingest-2'],
  dashboardUsers: ['admin:$apr1$x$y'],
}).http;

test('docker-compose.yml routes exactly like the file-provider config', () => {
  const { routers, middlewares, lbs } = traefikFromLabels();
  assert.deepEqual(Object.keys(routers).sort(), Object.keys(rendered.routers).sort());
  for (const [name, want] of Object.entries(rendered.routers)) {
    const got = routers[name]!;
    assert.equal(got.rule, want.rule, `router ${name}: rule`);
    assert.deepEqual(got.entryPoints, want.entryPoints, `router ${name}: entrypoints`);
    assert.equal(got.service, want.service, `router ${name}: service`);
    // In compose the panel and the reports always need READ_USER/READ_PASSWORD.
    const read = name === 'panel' || name === 'analytics' ? ['read-auth'] : [];
    const wanted = [...read, ...(want.middlewares ?? []).filter((m) => m !== 'read-auth')];
    assert.deepEqual(got.middlewares ?? [], wanted, `router ${name}: middlewares`);
  }
  assert.deepEqual(
    Object.keys(middlewares).sort(),
    [...new Set([...Object.keys(rendered.middlewares), 'read-auth'])].sort(),
  );
  assert.equal(middlewares['read-auth']?.['basicauth.usersfile'], '/auth/read.htpasswd');
  assert.deepEqual(services['read-auth']?.volumes, ['traefik-auth:/auth']);
  assert.deepEqual(services['reverse-proxy']?.depends_on?.['read-auth'], {
    condition: 'service_completed_successfully',
  });
  assert.match(services['read-auth']?.environment?.READ_USER ?? '', /^\$\{READ_USER:\?/);
  assert.match(services['read-auth']?.environment?.READ_PASSWORD ?? '', /^\$\{READ_PASSWORD:\?/);
  assert.equal(middlewares['strip-panel']?.['stripprefix.prefixes'], '/panel');
  assert.deepEqual(rendered.middlewares['ingest-retry'], { retry: INGEST_RETRY });
  assert.equal(middlewares['ingest-retry']?.['retry.attempts'], String(INGEST_RETRY.attempts));
  assert.equal(middlewares['ingest-retry']?.['retry.initialinterval'], INGEST_RETRY.initialInterval);
  assert.match(
    middlewares['dashboard-auth']?.['basicauth.users'] ?? '',
    /^\$\{TRAEFIK_DASHBOARD_HTPASSWD:\?/,
  );

  // Each service runs the Warren command it routes to, on that command's default port.
  const owners = {
    panel: ['panel-visual', 'panel'],
    analytics: ['analiticas', 'analytics'],
    ingest: ['cliente_x', 'ingest'],
  };
  const ports = { panel: settings.panelPort, analytics: settings.analyticsPort, ingest: settings.ingestPort };
  for (const [svc, [owner, cmd]] of Object.entries(owners) as [keyof typeof owners, string[]][]) {
    assert.equal(lbs[svc]?.owner, owner, `service ${svc} is defined on ${owner}`);
    assert.equal(routers[svc]?.owner, owner, `router ${svc} is defined on ${owner}`);
    assert.equal(services[owner!]?.command?.[0], cmd);
    assert.equal(lbs[svc]?.['loadbalancer.server.port'], ports[svc].default, `service ${svc}: port`);
  }
  // Ready, not merely alive: an instance without its broker leaves the pool.
  assert.equal(lbs.ingest?.['loadbalancer.healthcheck.path'], '/readyz');
  assert.equal(lbs.ingest?.['loadbalancer.healthcheck.interval'], INGEST_HEALTH_CHECK.interval);
  assert.equal(lbs.ingest?.['loadbalancer.healthcheck.timeout'], INGEST_HEALTH_CHECK.timeout);
  assert.deepEqual(rendered.services['ingest-live'].loadBalancer.healthCheck, INGEST_HEALTH_CHECK);
  assert.equal(routers.dashboard?.owner, 'reverse-proxy');
});

test('the reverse proxy has the web (80) and dashboard (8081) entrypoints, never api.insecure', () => {
  const proxy = services['reverse-proxy']!;
  assert.match(proxy.image ?? '', /^traefik:v3/);
  const flags = proxy.command ?? [];
  assert.ok(flags.includes('--entrypoints.web.address=:80'));
  assert.ok(flags.includes(`--entrypoints.traefik.address=:${settings.traefikApiPort.default}`));
  assert.ok(flags.includes('--api.dashboard=true'));
  assert.ok(flags.includes('--providers.docker.exposedbydefault=false'));
  assert.deepEqual(proxy.ports, [
    `\${PUBLISH_HTTP:-80}:80`,
    `\${PUBLISH_DASHBOARD:-${settings.traefikApiPort.default}}:8081`,
  ]);
  const withoutComments = text.replace(/^\s*#.*$/gm, '');
  assert.doesNotMatch(withoutComments, /insecure/i);
  const file = renderStatic({ host: '', proxyPort: 8000, apiPort: 8081 }, '/tmp/dynamic.yml');
  assert.deepEqual(file.api, { dashboard: true });
  assert.deepEqual(Object.keys(file.entryPoints), ['web', 'traefik']);
  assert.doesNotMatch(JSON.stringify(file), /insecure/i);
});

test('no guest credentials: RabbitMQ and every service use the .env user', () => {
  assert.doesNotMatch(text, /guest/i);
  const rabbit = services.rabbitmq!;
  assert.match(rabbit.image ?? '', /^rabbitmq:3-management/);
  assert.match(rabbit.environment?.RABBITMQ_DEFAULT_USER ?? '', /^\$\{RABBITMQ_USER:\?/);
  assert.match(rabbit.environment?.RABBITMQ_DEFAULT_PASS ?? '', /^\$\{RABBITMQ_PASSWORD:\?/);
  const env = readFileSync(join(ROOT, '.env.example'), 'utf8');
  assert.match(env, /^RABBITMQ_USER=(?!guest)\w+$/m);
  assert.match(env, /^RABBITMQ_PASSWORD=$/m, 'no password shipped: compose asks for one');
  for (const [name, s] of Object.entries(services)) {
    if (s.image !== 'warren:local' || name === 'read-auth') continue;
    assert.match(
      s.environment?.AMQP_URL ?? '',
      /^amqp:\/\/\$\{RABBITMQ_USER:\?[^}]*\}:\$\{RABBITMQ_PASSWORD:\?/,
      name,
    );
  }
});

test('every service restarts, waits for a healthy broker, and the data has volumes', () => {
  const warrenServices = Object.entries(services).filter(
    ([n, s]) => s.image === 'warren:local' && n !== 'read-auth',
  );
  assert.deepEqual(warrenServices.map(([n]) => n).sort(), [
    'alertas',
    'analiticas',
    'cliente_dos',
    'cliente_uno',
    'cliente_x',
    'panel-visual',
  ]);
  for (const [name, s] of Object.entries(services)) assert.ok(s.restart, `${name} has a restart policy`);
  for (const [name, s] of warrenServices) {
    assert.ok(s.build, `${name} builds the image`);
    const deps = s.depends_on ?? {};
    const healthy = Object.values(deps).some((d) => d.condition === 'service_healthy');
    assert.ok(healthy, `${name} waits for a healthy dependency`);
  }
  assert.equal(services.analiticas?.depends_on?.rabbitmq?.condition, 'service_healthy');
  assert.deepEqual(services.analiticas?.depends_on?.postgres, {
    condition: 'service_healthy',
    required: false,
  });
  assert.equal(services['panel-visual']?.depends_on?.analiticas?.condition, 'service_healthy');
  assert.ok(services.analiticas?.volumes?.includes('analytics-data:/data'));
  assert.ok('analytics-data' in compose.volumes);
  assert.equal(services.cliente_x?.ports, undefined, 'cliente_x publishes no host port, so it scales');
  assert.deepEqual(services.postgres?.profiles, ['postgres']);
  assert.deepEqual(services.cliente_uno?.command, ['client', '--name', 'cliente_uno', '--rate', '1']);
  assert.deepEqual(services.cliente_dos?.command, ['client', '--name', 'cliente_dos', '--rate', '1']);
  assert.deepEqual(services.alertas?.command, ['alerts', 'deliver']);
  assert.equal(services.alertas?.depends_on?.rabbitmq?.condition, 'service_healthy');
});

test('.env.example lists every setting of src/config.ts with its default', () => {
  const env = readFileSync(join(ROOT, '.env.example'), 'utf8');
  for (const s of Object.values(settings)) {
    const line = `# ${s.env}=${s.default ?? ''}`;
    assert.ok(env.split('\n').includes(line), `.env.example lacks "${line}"`);
  }
});

test('the Dockerfile copies files that exist and runs bin/warren.js; compose commands exist', async () => {
  const docker = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'));
  for (const m of docker.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const src of m[1]!.split(' ')) {
      assert.ok(existsSync(join(ROOT, src)), `COPY ${src}: no such file`);
      assert.ok(!ignored.includes(src), `COPY ${src}: excluded by .dockerignore`);
    }
  }
  assert.match(docker, /^ENTRYPOINT \["node", "bin\/warren\.js"\]$/m);
  const commands = new Set(
    Object.entries(services).flatMap(([n, s]) =>
      s.image === 'warren:local' && n !== 'read-auth' ? [s.command?.[0]] : [],
    ),
  );
  // The store reads its SQL migrations from the source tree at run time: the image has them.
  assert.match(docker, /^COPY --from=build \/app\/src\/store\/migrations \.\/src\/store\/migrations$/m);
  assert.match(docker, /^USER node$/m, 'runs as a non-root user');
  assert.match(docker, /^HEALTHCHECK .*CMD \["node", "deploy\/healthcheck\.mjs"\]$/m);
  assert.match(docker, /npm prune --omit=dev/);
  // `warren help` lists every registered command, one per line: `  <name>  <summary>`.
  const help = warren(['help']);
  assert.equal(await help.exited, 0, help.output());
  const listed = new Set([...help.stdout().matchAll(/^ {2}(\S+) /gm)].map((m) => m[1]));
  for (const cmd of commands)
    assert.ok(listed.has(cmd), `compose runs \`warren ${cmd}\`, which is not a command`);
});

test('no default secrets; private ports on 127.0.0.1 unless moved; ingest in keys mode', () => {
  for (const v of [
    'RABBITMQ_PASSWORD',
    'POSTGRES_PASSWORD',
    'RABBITMQ_ERLANG_COOKIE',
    'READ_USER',
    'READ_PASSWORD',
    'TRAEFIK_DASHBOARD_HTPASSWD',
  ]) {
    assert.match(text, new RegExp(`\\$\\{${v}:\\?`), `${v} is required (\${${v}:?…})`);
    assert.doesNotMatch(text, new RegExp(`\\$\\{${v}:-`), `${v} has no default`);
  }
  const privateOnly = /^\$\{PUBLISH_PRIVATE_HOST:-127\.0\.0\.1\}:/;
  assert.ok(services.rabbitmq?.ports?.some((p) => privateOnly.test(p) && p.endsWith(':15672')));
  assert.ok(services.rabbitmq?.ports?.every((p) => !p.endsWith(':15672') || privateOnly.test(p)));
  assert.ok(services.postgres?.ports?.every((p) => privateOnly.test(p)));
  assert.ok(services.analiticas?.ports?.every((p) => privateOnly.test(p)));
  for (const n of ['rabbitmq-1', 'rabbitmq-2', 'rabbitmq-3']) {
    assert.ok(
      services[n]?.ports?.every((p) => !p.endsWith(':15672') || privateOnly.test(p)),
      n,
    );
  }
  assert.equal(services.cliente_x?.environment?.INGEST_AUTH, 'keys');
  assert.equal(services.cliente_x?.environment?.API_KEYS_FILE, '/data/keys.json');
  assert.ok(services.cliente_x?.volumes?.includes('ingest-keys:/data'));
  for (const [name, s] of Object.entries(services)) {
    if (s.image === 'warren:local' && name !== 'read-auth')
      assert.equal(s.environment?.HOST, '0.0.0.0', name);
  }
});
