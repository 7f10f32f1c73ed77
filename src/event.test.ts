// Property tests of the event contract: parse() never throws, never accepts an invalid event and
// never rejects a valid one. The oracle below is written independently of event.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse, parseBody, parseTimestamp, reason, serialize } from './event.js';

const CLIENTE_CHARS = 'ABCXYZabcxyz0189_.-';
const EVENTO_CHARS = 'ABCXYZabcxyz0189_.:-';
const nameOf = (chars: string) =>
  fc.array(fc.constantFrom(...chars.split('')), { minLength: 1, maxLength: 64 }).map((a) => a.join(''));

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const validTimestamp = fc
  .record({
    ms: fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2200, 0, 1) }),
    offset: fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
    z: fc.boolean(),
    frac: fc.constantFrom('', '.5', '.123', '.123456789'),
  })
  .map(({ ms, offset, z, frac }) => {
    const off = z ? 0 : offset;
    const d = new Date(ms + off * 60_000);
    const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac}`;
    const zone = z
      ? 'Z'
      : `${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
    const whole = Math.floor(ms / 1000) * 1000;
    const fracMs = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
    return { text: base + zone, ms: whole + fracMs };
  });

const validEvent = fc.record({
  id: fc.option(fc.stringMatching(/^[\x20-\x7e]{1,128}$/), { nil: undefined }),
  cliente: nameOf(CLIENTE_CHARS),
  evento: nameOf(EVENTO_CHARS),
  ts: validTimestamp,
});

describe('event contract', () => {
  it('accepts every valid event and resolves its time exactly', () => {
    fc.assert(
      fc.property(validEvent, fc.dictionary(fc.string(), fc.jsonValue()), (e, extra) => {
        const input: Record<string, unknown> = {
          ...extra,
          cliente: e.cliente,
          evento: e.evento,
          timestamp: e.ts.text,
        };
        if (e.id !== undefined) input.id = e.id;
        else delete input.id;
        const r = parse(input);
        assert.ok(r.ok, `rejected ${JSON.stringify(input)}: ${r.ok ? '' : reason(r.problems)}`);
        assert.equal(r.event.ms, e.ts.ms);
        assert.equal(r.event.cliente, e.cliente);
        assert.equal(r.event.id, e.id);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws and rejects anything that breaks a rule', () => {
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true }), (v) => {
        const r = parse(v);
        if (r.ok) {
          const o = v as Record<string, unknown>;
          assert.match(String(o.cliente), /^[A-Za-z0-9_.-]{1,64}$/);
          assert.match(String(o.evento), /^[A-Za-z0-9_.:-]{1,64}$/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects a valid event with one field broken, naming that field', () => {
    const breakers: [string, fc.Arbitrary<unknown>][] = [
      [
        'cliente',
        fc.oneof(
          fc.constant(''),
          fc.constant('a'.repeat(65)),
          fc.constant('cli ente'),
          fc.constant('a:b'),
          fc.integer(),
          fc.constant(null),
        ),
      ],
      [
        'evento',
        fc.oneof(
          fc.constant(''),
          fc.constant('e'.repeat(65)),
          fc.constant('é'),
          fc.constant('a/b'),
          fc.boolean(),
        ),
      ],
      [
        'timestamp',
        fc.oneof(
          fc.constant('2025-04-13T12:00:00'),
          fc.constant('2025-02-30T00:00:00Z'),
          fc.constant('2025-04-13'),
          fc.constant('2025-13-01T00:00:00Z'),
          fc.constant('2025-04-13T24:00:00Z'),
          fc.constant('2025-04-13T12:00:00+24:00'),
          fc.integer(),
          fc.constant('yesterday'),
        ),
      ],
      [
        'id',
        fc.oneof(
          fc.constant(''),
          fc.constant('x'.repeat(129)),
          fc.constant('tab\there'),
          fc.constant('ñ'),
          fc.integer(),
        ),
      ],
    ];
    for (const [field, bad] of breakers) {
      fc.assert(
        fc.property(validEvent, bad, (e, value) => {
          const input = {
            id: 'x',
            cliente: e.cliente,
            evento: e.evento,
            timestamp: e.ts.text,
            [field]: value,
          };
          const r = parse(input);
          assert.equal(r.ok, false, `accepted ${field}=${JSON.stringify(value)}`);
          if (!r.ok) assert.ok(r.problems.some((p) => p.field === field));
        }),
        { numRuns: 200 },
      );
    }
  });

  it('requires cliente, evento and timestamp on the wire', () => {
    for (const missing of ['cliente', 'evento', 'timestamp']) {
      const input: Record<string, unknown> = { cliente: 'a', evento: 'b', timestamp: '2025-04-13T12:00:00Z' };
      delete input[missing];
      const r = parse(input);
      assert.equal(r.ok, false);
      if (!r.ok)
        assert.deepEqual(
          r.problems.map((p) => p.field),
          [missing],
        );
    }
  });

  it('ignores prototype-pollution keys and unknown fields', () => {
    const r = parseBody(
      '{"__proto__": {"cliente": "x"}, "constructor": 1, "cliente": "a", "evento": "b", "timestamp": "2025-04-13T12:00:00Z"}',
    );
    assert.ok(r.ok);
    assert.equal(({} as Record<string, unknown>).cliente, undefined);
    const polluted = parseBody(
      '{"__proto__": {"cliente": "x", "evento": "y", "timestamp": "2025-04-13T12:00:00Z"}}',
    );
    assert.equal(polluted.ok, false);
  });

  it('rejects bodies that are not JSON objects, without throwing', () => {
    for (const body of [
      '',
      'nope',
      '[]',
      '[{}]',
      'null',
      '42',
      '"s"',
      '{',
      Buffer.from([0xff, 0xfe, 0x00]),
    ]) {
      assert.equal(parseBody(body).ok, false);
    }
  });

  it('converts zones to UTC and counts a leap second in its own minute', () => {
    assert.equal(parseTimestamp('2025-04-13T12:00:00Z'), Date.UTC(2025, 3, 13, 12, 0, 0));
    assert.equal(parseTimestamp('2025-04-13T17:30:00+05:30'), Date.UTC(2025, 3, 13, 12, 0, 0));
    assert.equal(parseTimestamp('2025-04-12T23:00:00-13:00'), Date.UTC(2025, 3, 13, 12, 0, 0));
    assert.equal(parseTimestamp('2016-12-31T23:59:60Z'), Date.UTC(2016, 11, 31, 23, 59, 59, 999));
    assert.equal(parseTimestamp('2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29));
    assert.equal(parseTimestamp('2023-02-29T00:00:00Z'), undefined);
    assert.equal(parseTimestamp('1900-02-29T00:00:00Z'), undefined);
  });

  it('reads the form publishers write (toISOString) as the general reading does, valid or not', () => {
    // "+00:00" instead of "Z" is the same instant, and takes the general (regular expression) path.
    const digits = (n: number) => fc.integer({ min: 0, max: 10 ** n - 1 }).map((v) => pad(v, n));
    const isoLike = fc
      .tuple(digits(4), digits(2), digits(2), digits(2), digits(2), digits(2), digits(3))
      .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
    const real = fc
      .integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) })
      .map((ms) => new Date(ms).toISOString());
    fc.assert(
      fc.property(fc.oneof(isoLike, real), (text) => {
        assert.equal(parseTimestamp(text), parseTimestamp(`${text.slice(0, -1)}+00:00`));
      }),
      { numRuns: 5000 },
    );
    for (const text of ['2024-02-29T23:59:59.999Z', '2023-02-29T00:00:00.000Z', '2016-12-31T23:59:60.000Z'])
      assert.equal(parseTimestamp(text), parseTimestamp(`${text.slice(0, -1)}+00:00`), text);
    assert.equal(parseTimestamp('2025-04-13T12:00:00.123Z'), Date.UTC(2025, 3, 13, 12, 0, 0, 123));
  });

  it('serialises only the contract fields, and the result parses back', () => {
    fc.assert(
      fc.property(validEvent, (e) => {
        const body = serialize({ id: e.id, cliente: e.cliente, evento: e.evento, timestamp: e.ts.text });
        const r = parseBody(body);
        assert.ok(r.ok);
        assert.deepEqual(
          Object.keys(JSON.parse(body.toString())).sort(),
          e.id === undefined ? ['cliente', 'evento', 'timestamp'] : ['cliente', 'evento', 'id', 'timestamp'],
        );
      }),
      { numRuns: 500 },
    );
  });

  it('carries an optional usuario of 1-128 printable characters, in any script', () => {
    const base = { cliente: 'cliente_uno', evento: 'click', timestamp: '2025-04-13T12:00:00Z' };
    fc.assert(
      fc.property(
        // Printable: the grapheme generator also yields line and paragraph separators (U+2028,
        // U+2029), which the rule refuses like control characters (the cases after this one).
        fc
          .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
          .filter((u) => [...u].length <= 128 && !/[\p{Cc}\p{Cs}\p{Cn}\p{Zl}\p{Zp}]/u.test(u)),
        (usuario) => {
          const r = parse({ ...base, usuario });
          assert.ok(r.ok, usuario);
          assert.equal(r.event.usuario, usuario);
          const back = parseBody(serialize(r.event));
          assert.ok(back.ok);
          assert.equal(back.event.usuario, usuario);
        },
      ),
    );
    const without = parse(base);
    assert.ok(without.ok);
    assert.equal('usuario' in without.event, false);
    assert.equal(JSON.parse(serialize(without.event).toString()).usuario, undefined);
    for (const usuario of [
      '',
      'a'.repeat(129),
      'tab\there',
      'new\nline',
      '\u2028',
      '\u2028 ',
      'para\u2029graph',
      '\ud800',
      7,
      null,
      ['u'],
    ]) {
      const r = parse({ ...base, usuario });
      if (usuario === null) {
        assert.ok(r.ok, 'null is the same as absent');
        continue;
      }
      assert.equal(r.ok, false, JSON.stringify(usuario));
      assert.equal(r.problems[0]?.field, 'usuario');
    }
    assert.ok(parse({ ...base, usuario: '😀'.repeat(128) }).ok, '128 characters, not UTF-16 units');
  });
});
