/**
 * The HTTP client warrenctl talks to the management API with: a base URL
 * (a path prefix is kept), HTTP basic auth, JSON in and out, a timeout per
 * request, over node:http(s). Failures are typed so the CLI can pick the exit code:
 *
 *   ConnectError  the broker could not be reached (refused, DNS, reset)
 *   TimeoutError  no answer within the timeout
 *   HttpError     an answer with a status >= 400, carrying RabbitMQ's
 *                 {"error": ..., "reason": ...} body when there is one
 *
 * No Accept header: RabbitMQ answers 406 to "Accept: application/json" on
 * DELETE /api/queues/{vhost}/{name}/contents.
 *
 * onResponse is called with every answer's status before it is interpreted
 * (warrenctl prints its informational lines once the broker has answered).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export class ConnectError extends Error {
  constructor(
    readonly url: string,
    readonly code: string,
  ) {
    super(`unable to connect to ${url}: ${code}`);
    this.name = 'ConnectError';
  }
}

export class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms / 1000} seconds`);
    this.name = 'TimeoutError';
  }
}

export class HttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** the body's "error" (e.g. not_authorized, bad_request), or the status text */
    readonly error: string,
    /** the body's "reason" (e.g. "Login failed"), or '' */
    readonly reason: string,
  ) {
    super(`${method} ${path}: ${status} ${error}${reason ? ` (${reason})` : ''}`);
    this.name = 'HttpError';
  }
}

/** One HTTP exchange, the seam unit tests replace. Rejects with TimeoutError, or a Node error (ECONNREFUSED...). */
export type Transport = (req: {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}) => Promise<{ status: number; statusText: string; text: string }>;

/**
 * node:http, one connection per request (no keep-alive: a pooled socket
 * would keep a short-lived CLI process alive after its work is done).
 */
export const httpTransport: Transport = (req) =>
  new Promise((resolve, reject) => {
    const request = (req.url.protocol === 'https:' ? httpsRequest : httpRequest)(req.url, { method: req.method, headers: req.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text: Buffer.concat(parts).toString('utf8') }));
    });
    const timer = setTimeout(() => request.destroy(new TimeoutError(req.timeoutMs)), req.timeoutMs);
    request.on('close', () => clearTimeout(timer));
    request.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    request.end(req.body);
  });

export interface HttpClientOptions {
  url: string;
  username: string;
  password: string;
  /** per request; default 60 s */
  timeoutMs?: number;
  /** replaceable for unit tests */
  transport?: Transport;
  onResponse?: (status: number) => void;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

/** /api/a/b with each segment percent-encoded ("/" -> %2F, as the API expects for vhost names). */
export function apiPath(...segments: string[]): string {
  return '/api/' + segments.map((s) => encodeURIComponent(s)).join('/');
}

export class HttpClient {
  readonly baseUrl: string;
  readonly username: string;
  private readonly password: string;
  private readonly timeoutMs: number;
  private readonly transport: Transport;
  private readonly onResponse: ((status: number) => void) | undefined;

  constructor(o: HttpClientOptions) {
    this.baseUrl = o.url.replace(/\/+$/, '');
    this.username = o.username;
    this.password = o.password;
    this.timeoutMs = o.timeoutMs ?? 60_000;
    this.transport = o.transport ?? httpTransport;
    this.onResponse = o.onResponse;
  }

  /** The same broker and settings, other credentials (authenticate_user). */
  withCredentials(username: string, password: string): HttpClient {
    return new HttpClient({ url: this.baseUrl, username, password, timeoutMs: this.timeoutMs, transport: this.transport });
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request('GET', path) as Promise<T>;
  }

  put(path: string, body: unknown): Promise<unknown> {
    return this.request('PUT', path, { body });
  }

  post(path: string, body: unknown): Promise<unknown> {
    return this.request('POST', path, { body });
  }

  delete(path: string, headers?: Record<string, string>): Promise<unknown> {
    return this.request('DELETE', path, headers ? { headers } : {});
  }

  /** The parsed JSON body (undefined when empty); throws ConnectError, TimeoutError or HttpError. */
  async request(method: string, path: string, o: RequestOptions = {}): Promise<unknown> {
    const headers: Record<string, string> = {
      authorization: 'Basic ' + Buffer.from(`${this.username}:${this.password}`).toString('base64'),
      ...o.headers,
    };
    let payload: string | undefined;
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    let res: Awaited<ReturnType<Transport>>;
    try {
      res = await this.transport({ method, url: new URL(this.baseUrl + path), headers, ...(payload === undefined ? {} : { body: payload }), timeoutMs: this.timeoutMs });
    } catch (err) {
      if (err instanceof TimeoutError) throw err;
      const e = err as { code?: string; message?: string; errors?: { code?: string }[] };
      throw new ConnectError(this.baseUrl, e.code ?? e.errors?.[0]?.code ?? (e.message || String(err)));
    }
    this.onResponse?.(res.status);
    let body: unknown;
    if (res.text.length > 0) {
      try {
        body = JSON.parse(res.text);
      } catch {
        body = res.text;
      }
    }
    if (res.status >= 400) {
      const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
      const error = typeof b.error === 'string' ? b.error : res.statusText || String(res.status);
      const reason = typeof b.reason === 'string' ? b.reason : typeof body === 'string' ? body.trim() : '';
      throw new HttpError(method, path, res.status, error, reason);
    }
    return body;
  }
}
