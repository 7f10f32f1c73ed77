// Unit tests of the alert contract (alert.ts): a signature verifies only the exact body under the
// rule's secret, and both webhook formats carry the alert and its id.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Alert, alertMessageSchema, buildMessage, renderBody, sign, verify } from './alert.js';

const alert: Alert = {
  id: 'r1:2026-12-01T10:00:00.000Z:fired',
  state: 'fired',
  rule: { id: 'r1', kind: 'silence', cliente: 'cliente_uno' },
  episode_start: '2026-12-01T10:00:00.000Z',
  at: '2026-12-01T10:00:00.000Z',
  summary: 'cliente_uno sent nothing for 5 minutes',
  detail: { minutes: 5 },
};

describe('alert signature', () => {
  it('is the HMAC-SHA256 of the body under the secret, checked in constant time', () => {
    const body = renderBody(alert, 'json');
    const sig = sign(body, 's3cret');
    assert.match(sig, /^sha256=[0-9a-f]{64}$/);
    assert.equal(verify(body, sig, 's3cret'), true);
    assert.equal(verify(body, sig, 'other'), false);
    assert.equal(verify(`${body} `, sig, 's3cret'), false);
    assert.equal(verify(body, 'sha256=00', 's3cret'), false);
  });
});

describe('alert bodies', () => {
  it('json is the alert itself; slack has text and the alert', () => {
    assert.deepEqual(JSON.parse(renderBody(alert, 'json')), alert);
    const slack = JSON.parse(renderBody(alert, 'slack'));
    assert.match(slack.text, /cliente_uno sent nothing/);
    assert.equal(slack.warren.id, alert.id);
  });
  it('a built message passes its own schema and its signature verifies', () => {
    const msg = buildMessage(alert, 'http://127.0.0.1:9/hook', 'slack', 'k');
    assert.deepEqual(alertMessageSchema.parse(msg), msg);
    assert.equal(verify(msg.body, msg.signature, 'k'), true);
  });
});
