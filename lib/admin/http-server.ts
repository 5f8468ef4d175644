/**
 * The management HTTP server: a node:http listener (loopback by default)
 * that authenticates each request with HTTP basic auth against the broker's
 * users (loopback_users apply, as for AMQP), finds its route, checks the
 * route's tag, parses a JSON body (at most MAX_BODY bytes) and answers with
 * JSON. Errors are RabbitMQ's bodies: 401 {"error":"not_authorized",
 * "reason":"Login failed"} with a WWW-Authenticate challenge, 404
 * {"error":"Object Not Found","reason":"Not Found"}, 400 for malformed JSON
 * ({"error":"bad_request","reason":"not_json"}), 405 with an Allow header.
 * A handler that throws anything else is a 500 that is logged; nothing a
 * request does reaches the event loop as an exception.
 *
 * One exception to authentication: GET /metrics (when a renderer is given)
 * answers Prometheus's text format without credentials, for scrapers, as
 * RabbitMQ's rabbitmq_prometheus plugin serves it (there on its own port,
 * 15692). It shows counts, queue names and vhost names, never message
 * contents or users; the port binds to loopback unless http_bind says
 * otherwise.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { ApiError, ApiResponse, badRequest, forbidden, hasTag, notFound } from './http-api.js';
import type { ApiContext, ApiRequest, Route } from './http-api.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';

/** Largest request body taken (definitions files can be large). */
const MAX_BODY = 64 * 1024 * 1024;

interface CompiledRoute extends Route {
  segments: string[];
}

export class HttpApiServer {
  private readonly server: Server;
  private readonly routes: CompiledRoute[];
  private readonly ctx: ApiContext;
  private readonly logger: Logger;
  /** renders GET /metrics (metrics.ts); null: no /metrics */
  private readonly metrics: (() => string) | null;

  constructor(ctx: ApiContext, routes: readonly Route[], logger: Logger, metrics: (() => string) | null = null) {
    this.ctx = ctx;
    this.logger = logger;
    this.metrics = metrics;
    this.routes = routes.map((r) => ({ ...r, segments: r.path.split('/').slice(1) }));
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger.error({ err }, 'HTTP API: request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal_server_error', reason: 'see the broker log' });
        else res.destroy();
      });
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host }, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // The one unauthenticated path, outside /api: Prometheus scrapers (see the header comment).
    if (this.metrics && url.pathname === '/metrics') return this.serveMetrics(req, res, this.metrics);
    const user = this.authenticate(req);
    if (!user) {
      send(res, 401, { error: 'not_authorized', reason: 'Login failed' }, { 'www-authenticate': 'Basic realm="RabbitMQ Management"' });
      return;
    }
    const path = url.pathname.split('/').slice(1);
    const matching = this.routes.map((r) => [r, matchPath(r.segments, path)] as const).filter(([, p]) => p !== null);
    if (matching.length === 0) return send(res, 404, errorBody(notFound()));
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const found = matching.find(([r]) => r.method === method);
    if (!found) {
      const allow = [...new Set(matching.map(([r]) => r.method))].join(', ');
      return send(res, 405, undefined, { allow });
    }
    const [route, params] = found;
    try {
      if (!hasTag(user.tags, route.tag)) throw forbidden(route.tag === 'administrator' ? 'Not administrator user' : route.tag === 'monitoring' ? 'Not monitor user' : 'Not management user');
      const body = await readBody(req);
      const request: ApiRequest = { method, params: params!, query: url.searchParams, body, user, ctx: this.ctx, headers: req.headers };
      const result = await route.handler(request);
      if (result instanceof ApiResponse) send(res, result.status, result.body, result.headers);
      else send(res, 200, result);
    } catch (err) {
      if (err instanceof ApiError) return send(res, err.status, errorBody(err));
      throw err;
    }
  }

  private serveMetrics(req: IncomingMessage, res: ServerResponse, render: () => string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, undefined, { allow: 'GET' });
    const text = render();
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** The user of a request's basic auth credentials, or null (no header, wrong password, loopback-only user from afar). */
  private authenticate(req: IncomingMessage) {
    const header = req.headers.authorization;
    if (!header?.startsWith('Basic ')) return null;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    const result = this.ctx.broker.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1), req.socket.remoteAddress ?? '');
    return result.ok ? result.user : null;
  }
}

/** Path parameters when the route's segments match the request's, else null. */
function matchPath(route: string[], path: string[]): Record<string, string> | null {
  if (route.length !== path.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < route.length; i++) {
    const r = route[i]!;
    let p: string;
    try {
      p = decodeURIComponent(path[i]!);
    } catch {
      return null;
    }
    if (r.startsWith(':')) {
      // no object has an empty name here (the default exchange is "amq.default" in paths)
      if (p === '') return null;
      params[r.slice(1)] = p;
    } else if (r !== p) return null;
  }
  return params;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new ApiError(413, 'bad_request', 'request body too large'));
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size === 0) return resolve(undefined);
      try {
        resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
      } catch {
        reject(badRequest('not_json'));
      }
    });
  });
}

function errorBody(err: ApiError): unknown {
  return { error: err.error, reason: err.reason };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    'cache-control': 'no-cache',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}
