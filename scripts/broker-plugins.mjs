// Enables RabbitMQ's MQTT and STOMP plugins on a broker running on THIS machine, listening on
// MQTT_PORT (1884: Mosquitto may hold MQTT's usual 1883) and STOMP_PORT (61613), without
// restarting the broker, and persists the ports for its next start. Idempotent: a second run
// changes nothing. For a broker elsewhere it prints what to do there. `node scripts/broker-plugins.mjs`
// runs it alone; scripts/setup.mjs calls enableBrokerPlugins() (after the build: it reads dist/config.js).
//
// Why this order (RabbitMQ docs: "Plugins", "Configuration" (conf.d), "MQTT Plugin", "STOMP Plugin"):
// 1. A listener port is read when the plugin's application starts, and application:set_env() on an
//    application that is not loaded yet is overwritten by its .app defaults (1883, 61613) when it
//    loads; so the running node loads each application first, then sets tcp_listeners.
// 2. `rabbitmq-plugins enable` then starts them on the running node (no restart).
// 3. The ports go to a file of our own in the node's conf.d directory (read after rabbitmq.conf
//    at every start), checked first by the node's own config parser, so a bad line can never stop
//    the next boot. A user's own `mqtt.listeners.tcp.*`/`stomp.listeners.tcp.*` lines are left alone.
// The plugins' defaults already give what Warren needs: MQTT publishes go to `amq.topic` in vhost
// `/` as `guest` (allow_anonymous), and STOMP `/topic/<key>` destinations go to `amq.topic`;
// `guest` only logs in from loopback, so the listeners follow the AMQP listener's interface.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const OWN_FILE = '90-warren-plugins.conf';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

const PLUGINS = (cfg) => [
  { app: 'rabbitmq_mqtt', protocol: 'mqtt', key: 'mqtt', env: 'MQTT_PORT', port: cfg.mqttPort },
  { app: 'rabbitmq_stomp', protocol: 'stomp', key: 'stomp', env: 'STOMP_PORT', port: cfg.stompPort },
];

function manual(cfg, why) {
  return (
    `${why}. On the broker's machine run \`rabbitmq-plugins enable rabbitmq_mqtt rabbitmq_stomp\` and put ` +
    `\`mqtt.listeners.tcp.default = ${cfg.mqttPort}\` and \`stomp.listeners.tcp.default = ${cfg.stompPort}\` ` +
    'in its rabbitmq.conf or conf.d/ (a running broker applies them on restart); or set MQTT_PORT/STOMP_PORT to the ports it uses'
  );
}

function cli(tool, args) {
  const r = spawnSync(tool, args, { encoding: 'utf8', timeout: 60_000 });
  const err = `${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim().split('\n')[0] ?? '';
  return { ok: r.status === 0, out: r.stdout ?? '', err };
}

// Expressions go through Debian's rabbitmqctl wrapper (`su … -c "…"`): no backslash, `$` or backquote.
const STATE = `Ctx = rabbit_env:get_context(),
Str = fun(K) -> case maps:get(K, Ctx, undefined) of V when is_list(V) -> list_to_binary(V); _ -> null end end,
Ls = [#{protocol => atom_to_binary(P, utf8), ip => list_to_binary(inet:ntoa(IP)), port => Port}
      || {listener, N, P, _, IP, Port, _} <- rabbit_networking:active_listeners(), N =:= node()],
Apps = [atom_to_binary(A, utf8) || {A, _, _} <- application:which_applications()],
base64:encode(rabbit_json:encode(#{listeners => Ls, apps => Apps,
  main => Str(main_config_file), extra => Str(additional_config_files)})).`;

/** What the running node says about itself: listeners, running applications, config file paths. */
function nodeState() {
  const r = cli('rabbitmqctl', ['-q', 'eval', STATE]);
  if (!r.ok) return { error: r.err || 'rabbitmqctl eval failed' };
  const b64 = [...r.out.matchAll(/"([A-Za-z0-9+/=]*)"/g)].map((m) => m[1]).join('');
  try {
    return JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch {
    return { error: `unexpected rabbitmqctl output: ${r.out.slice(0, 200)}` };
  }
}

const listening = (state, p) => state.listeners.some((l) => l.protocol === p.protocol && l.port === p.port);

/** Ports a config file already gives a plugin's TCP listeners (uncommented lines only). */
function configuredPorts(file, key) {
  if (!existsSync(file)) return [];
  const re = new RegExp(`^\\s*${key}\\.listeners\\.tcp\\.[^=\\s]+\\s*=\\s*(\\S+)`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => re.exec(line)?.[1])
    .filter(Boolean)
    .map((v) => Number(v.split(':').pop()));
}

/** Asks the node's own parser (cuttlefish, the one used at boot) whether a conf file is valid. */
function validConf(file) {
  const r = cli('rabbitmqctl', [
    '-q',
    'eval',
    `case catch rabbit_prelaunch_conf:generate_config_from_cuttlefish_files(rabbit_env:get_context(), ["${file}"], undefined) of L when is_list(L) -> conf_valid; E -> E end.`,
  ]);
  return r.ok && r.out.includes('conf_valid');
}

/** Persists the ports in <conf.d>/90-warren-plugins.conf; returns a problem to report, if any. */
function persist(state, plugins, ip) {
  if (!state.extra || !state.main) return 'the node reports no conf.d directory; add the lines by hand';
  const dir = dirname(state.extra);
  const own = join(dir, OWN_FILE);
  const others = [`${state.main}.conf`];
  if (existsSync(dir))
    for (const f of readdirSync(dir)) if (f.endsWith('.conf') && f !== OWN_FILE) others.push(join(dir, f));
  const lines = [];
  const notes = [];
  for (const p of plugins) {
    const theirs = others.flatMap((f) => configuredPorts(f, p.key).map((port) => ({ f, port })));
    if (theirs.length === 0) lines.push(`${p.key}.listeners.tcp.default = ${ip ? `${ip}:` : ''}${p.port}`);
    else if (!theirs.some((t) => t.port === p.port))
      notes.push(
        `${theirs[0].f} sets ${p.key} listeners to ${theirs.map((t) => t.port).join(', ')}, not ${p.env}=${p.port}`,
      );
  }
  const text = lines.length
    ? `# Written by Warren's set-up (scripts/broker-plugins.mjs) so RabbitMQ's MQTT and STOMP plugins\n# listen where Warren expects them. Delete this file to undo.\n${lines.join('\n')}\n`
    : '';
  const current = existsSync(own) ? readFileSync(own, 'utf8') : '';
  if (text === current) return notes.join('; ');
  try {
    if (!text) rmSync(own, { force: true });
    else {
      const tmp = join(tmpdir(), `warren-rabbitmq-${process.pid}.conf`);
      writeFileSync(tmp, text);
      chmodSync(tmp, 0o644); // the node reads it as the rabbitmq user
      const ok = validConf(tmp);
      rmSync(tmp, { force: true });
      if (!ok) return `the broker rejected the lines ${lines.join(' / ')}; ${own} left unchanged`;
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      writeFileSync(own, text, { mode: 0o644 });
    }
  } catch (err) {
    return `could not write ${own} (${err.code ?? err.message}); add these lines to ${state.main}.conf: ${lines.join(' / ')}`;
  }
  return notes.join('; ');
}

/** Starts the plugins that are not running, on the configured ports. */
function start(state, plugins, ip, say) {
  const todo = plugins.filter((p) => !state.apps.includes(p.app));
  const wrong = plugins.filter((p) => state.apps.includes(p.app) && !listening(state, p));
  if (wrong.length) {
    const on = (p) => state.listeners.filter((l) => l.protocol === p.protocol).map((l) => l.port);
    return wrong
      .map(
        (p) =>
          `${p.app} already runs on port ${on(p).join(', ') || '(none)'}, not ${p.env}=${p.port}: set ${p.env} to it, or restart the broker to apply the new port`,
      )
      .join('; ');
  }
  if (todo.length === 0) return '';
  say(`enabling RabbitMQ plugins ${todo.map((p) => `${p.app} (port ${p.port})`).join(' and ')}…`);
  const spec = (p) => (ip ? `[{"${ip}", ${p.port}}]` : `[${p.port}]`);
  const env = todo
    .map((p) => `application:load(${p.app}), ok = application:set_env(${p.app}, tcp_listeners, ${spec(p)})`)
    .join(', ');
  const set = cli('rabbitmqctl', ['-q', 'eval', `${env}, ok.`]);
  if (!set.ok) return `could not set the listener ports: ${set.err}`;
  const en = cli('rabbitmq-plugins', ['-q', 'enable', ...todo.map((p) => p.app)]);
  if (!en.ok) return `rabbitmq-plugins enable failed: ${en.err}`;
  return '';
}

async function loadSettings() {
  const file = join(root, 'dist', 'config.js');
  if (!existsSync(file)) throw new Error('dist/config.js is missing: run `npm run build` first');
  const { loadConfig } = await import(pathToFileURL(file).href);
  return loadConfig();
}

/**
 * Makes MQTT and STOMP publishing work on the local broker. Never throws: returns
 * { ok, message } where message says what was done or what to do.
 */
export async function enableBrokerPlugins(say = (m) => process.stderr.write(`broker-plugins: ${m}\n`)) {
  let cfg;
  try {
    cfg = await loadSettings();
  } catch (err) {
    return { ok: false, message: err.message };
  }
  const host = new URL(cfg.amqpUrls[0]).hostname;
  if (!LOOPBACK.has(host) && !host.startsWith('127.'))
    return { ok: false, message: manual(cfg, `RabbitMQ (${host}) is not on this machine`) };
  if (!cli('sh', ['-c', 'command -v rabbitmqctl']).ok)
    return { ok: false, message: manual(cfg, 'rabbitmqctl is not on PATH') };
  const plugins = PLUGINS(cfg);
  const state = nodeState();
  if (state.error)
    return {
      ok: false,
      message: `rabbitmqctl cannot reach the local node (${state.error}); run as root or the rabbitmq user`,
    };
  const amqp = state.listeners.filter((l) => l.protocol === 'amqp');
  // guest logs in from loopback only; a broker that keeps AMQP on loopback keeps these there too.
  const ip =
    amqp.length > 0 && amqp.every((l) => l.ip === '127.0.0.1' || l.ip === '::1') ? '127.0.0.1' : undefined;
  const persisted = persist(state, plugins, ip);
  if (persisted) say(`note: ${persisted}`);
  if (plugins.every((p) => listening(state, p)))
    return { ok: true, message: `MQTT on ${cfg.mqttPort} and STOMP on ${cfg.stompPort} already enabled` };
  const failed = start(state, plugins, ip, say);
  if (failed) return { ok: false, message: failed };
  const after = nodeState();
  const missing = after.error ? plugins : plugins.filter((p) => !listening(after, p));
  if (missing.length)
    return {
      ok: false,
      message: `${missing.map((p) => `${p.app} is not listening on ${p.port}`).join('; ')}; see the broker log (rabbitmq-diagnostics log_tail)`,
    };
  return { ok: true, message: `MQTT on ${cfg.mqttPort} and STOMP on ${cfg.stompPort} enabled` };
}

if (process.argv[1] && basename(process.argv[1]) === basename(fileURLToPath(import.meta.url))) {
  const r = await enableBrokerPlugins();
  process.stderr.write(`broker-plugins: ${r.message}\n`);
  process.exit(r.ok ? 0 : 1);
}
