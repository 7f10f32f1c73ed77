// Pieces every Warren HTTP server shares: one error handler answering CONTRACT.md's JSON error
// shape (never a stack trace or a file path), the not-found answer, and a listen that names
// the setting when a port is taken.
import { type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, WarrenError } from './errors.js';

export interface ErrorBody {
  error: ErrorCode | string;
  message: string;
  details: unknown[];
}

export function errorBody(code: ErrorCode | string, message: string, details: unknown[] = []): ErrorBody {
  return { error: code, message, details };
}

/** Maps Fastify's own errors (body parsing, limits, content type) onto the contract's codes. */
function fromFastify(err: FastifyError): WarrenError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new WarrenError('too_large', 'The request body is larger than the limit.', { status: 413 });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new WarrenError('unsupported_media_type', 'Send the body as application/json.', { status: 415 });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new WarrenError('invalid_json', 'The body is not valid JSON.', { status: 400 });
    default:
      break;
  }
  // The client went away (or was cut at the request timeout) while sending its body.
  if (err.code === 'ECONNRESET' || err.message === 'aborted') {
    return new WarrenError('bad_request', 'The request body was cut off before it ended.', { status: 400 });
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new WarrenError('invalid_json', 'The body is not valid JSON.', { status: 400 });
  }
  if (err.validation) {
    return new WarrenError('bad_request', 'The request does not match the API.', {
      status: 400,
      details: err.validation.map((v) => ({ field: v.instancePath || v.params, rule: v.message })),
    });
  }
  return undefined;
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const known = err instanceof WarrenError ? err : fromFastify(err);
    if (!known) {
      req.log.error({ err }, 'unhandled error');
      return reply
        .status(500)
        .send(errorBody('internal', 'Something went wrong on our side; it has been logged.'));
    }
    // An outage answers many requests the same way; the broker connection logs it once.
    if (known.status >= 500 && known.code !== 'broker_unavailable')
      req.log.warn({ err: known.message, code: known.code }, 'request failed');
    if (known.retryAfterS !== undefined) reply.header('retry-after', String(known.retryAfterS));
    return reply.status(known.status).send(errorBody(known.code, known.message, known.details));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorBody('not_found', `No route for ${req.method} ${req.url.split('?')[0]}.`));
  });
}

/** What a request Node's HTTP parser refused gets: status, contract code and a sentence. */
function clientErrorAnswer(code: string | undefined): [number, ErrorCode, string] {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [
        408,
        'request_timeout',
        'The request was not received in time (HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS); send it again at once.',
      ];
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'too_large', 'The request headers are larger than the limit (16 KiB).'];
    default:
      return [
        400,
        'bad_request',
        'The request is not valid HTTP/1.1 (its request line, headers or body framing).',
      ];
  }
}

/**
 * Fastify's clientErrorHandler (every Warren server passes it): a request Node's HTTP parser
 * refuses (broken chunked framing, both Content-Length and Transfer-Encoding, headers over the
 * limit, a request not received in time) is answered in the contract's error shape, as Node's
 * and Fastify's own handlers do with their own bodies, and the connection is closed.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody to answer (https://nodejs.org/api/http.html#event-clienterror).
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] = clientErrorAnswer(err.code);
  if (socket.writable) {
    const body = JSON.stringify(errorBody(code, message));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** Listens, or throws a one-line error naming the variable when the port is taken. */
export async function listen(
  app: FastifyInstance,
  host: string,
  port: number,
  variable: string,
): Promise<number> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') {
      throw new WarrenError(
        'config',
        `port ${port} (${variable}) is already in use; stop what holds it or set ${variable}`,
      );
    }
    if (code === 'EACCES') {
      throw new WarrenError(
        'config',
        `port ${port} (${variable}) needs privileges; choose a port above 1023 with ${variable}`,
      );
    }
    throw err;
  }
  const addr = app.server.address();
  return typeof addr === 'object' && addr ? addr.port : port;
}

/** The slow-client limits every Warren HTTP server applies (config.ts, HTTP_*). */
export interface HttpLimits {
  httpHeadersTimeoutMs: number;
  httpRequestTimeoutMs: number;
  httpKeepAliveTimeoutMs: number;
  httpMaxRequestsPerSocket: number;
  httpMaxConnections: number;
}

/**
 * Bounds what a slow or greedy client can hold (call before listen): a client that trickles its
 * headers (slowloris) or its body is cut at the headers / request timeout (Node answers 408), a
 * keep-alive connection serves a bounded number of requests, and connections beyond the bound are
 * closed at once. No idle-socket timeout: event streams stay open (they carry pings).
 */
export function applyLimits(server: Server, limits: HttpLimits): void {
  const request = limits.httpRequestTimeoutMs;
  server.requestTimeout = request;
  // Node refuses a headers timeout above the request timeout.
  server.headersTimeout = Math.min(limits.httpHeadersTimeoutMs, request);
  // Node checks both timeouts on this interval (30 s by default), read when the server listens.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    100,
    Math.min(1000, Math.floor(server.headersTimeout / 4)),
  );
  server.keepAliveTimeout = limits.httpKeepAliveTimeoutMs;
  server.maxRequestsPerSocket = limits.httpMaxRequestsPerSocket;
  server.maxConnections = limits.httpMaxConnections;
}
