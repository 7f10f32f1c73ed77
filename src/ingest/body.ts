// The one body parser of the gateway: application/json only, read as a buffer up to the byte limit,
// decoded as strict UTF-8 (RFC 8259 §8.1) and parsed with JSON.parse. JSON.parse creates own data
// properties only (a "__proto__" key never changes a prototype); the event builder then refuses
// such keys and copies nothing but the contract's fields, so nothing from the body reaches a
// prototype.
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WarrenError } from '../errors.js';

function unsupported(message: string): WarrenError {
  return new WarrenError('unsupported_media_type', message, { status: 415 });
}

function charsetOk(contentType: string | undefined): boolean {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return !m || /^utf-?8$/i.test(m[1]!);
}

/** Decodes and parses a JSON body; an empty body is undefined (the routes decide what it means). */
export function decodeJson(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  // isUtf8 (simdutf) checks as strictly as a fatal TextDecoder (no overlong forms, no surrogates)
  // and, with toString, costs a fraction of decode() on a small body.
  if (!isUtf8(buf)) {
    throw new WarrenError('invalid_json', 'The body is not valid UTF-8; send JSON encoded as UTF-8.', {
      status: 400,
    });
  }
  let text = buf.toString('utf8');
  // A leading byte order mark is ignored, as TextDecoder does and RFC 8259 §8.1 allows.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WarrenError('invalid_json', 'The body is not valid JSON.', {
      status: 400,
      details: [{ field: '(body)', rule: (err as Error).message.slice(0, 200) }],
    });
  }
}

/** Replaces Fastify's parsers: JSON (UTF-8) only; anything else is 415. */
export function installJsonParser(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit },
    (req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => {
      if (!charsetOk(req.headers['content-type'])) {
        done(unsupported('Send JSON as UTF-8 (charset=utf-8, or no charset).'));
        return;
      }
      try {
        done(null, decodeJson(body));
      } catch (err) {
        done(err as Error);
      }
    },
  );
  // Everything else (text/plain, forms, no content type with a body) gets the contract's 415.
  app.addContentTypeParser('*', (req, _payload, done) => {
    const type = req.headers['content-type'];
    done(
      unsupported(
        `Content type ${type ? JSON.stringify(type) : '(none)'} is not supported; send the body as application/json.`,
      ),
    );
  });
}
