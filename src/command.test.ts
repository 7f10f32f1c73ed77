// The command plumbing every part shares: which errors stop a command with exit code 2, and the
// one shape of the long-running service commands (start, wait for a stop signal, close).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CommandContext, isUsageOrConfig, serviceCommand, usageError } from './command.js';
import { loadConfig } from './config.js';
import { WarrenError } from './errors.js';
import { createLogger } from './log.js';

describe('command plumbing', () => {
  it('usage and config errors (and only they) are the exit-2 kind', () => {
    const usage = usageError('--rate must be a number >= 0, got "x"');
    assert.ok(usage instanceof WarrenError);
    assert.equal(usage.code, 'usage');
    assert.equal(isUsageOrConfig(usage), true);
    assert.equal(isUsageOrConfig(new WarrenError('config', 'PORT must be a port')), true);
    assert.equal(isUsageOrConfig(new WarrenError('broker_unavailable', 'RabbitMQ is not reachable')), false);
    assert.equal(isUsageOrConfig(new Error('anything else')), false);
  });

  it('a bad setting is a config error naming the variable', () => {
    assert.throws(
      () => loadConfig({ INGEST_PORT: 'abc' }),
      (err) => isUsageOrConfig(err) && err.code === 'config' && /^INGEST_PORT must be/.test(err.message),
    );
  });

  it('serviceCommand starts the service, waits for the stop signal, then closes it', async () => {
    const calls: string[] = [];
    let stop: (sig: NodeJS.Signals) => void = () => undefined;
    const command = serviceCommand({
      what: 'the test service',
      summary: 'a service',
      usage: 'warren test',
      build: () => ({
        written: 3,
        async start() {
          calls.push('start');
        },
        async close() {
          calls.push('close');
        },
      }),
      onStop: (s) => ({ written: s.written }),
    });
    const ctx: CommandContext = {
      config: loadConfig({}),
      log: createLogger('silent', 'test'),
      values: {},
      positionals: [],
      stopSignal: new Promise((resolve) => (stop = resolve)),
    };
    const exit = command.run(ctx);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls, ['start'], 'started, and running until a stop signal');
    stop('SIGTERM');
    assert.equal(await exit, 0);
    assert.deepEqual(calls, ['start', 'close']);
  });
});
