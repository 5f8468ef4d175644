// A tiny client for the management HTTP API in tests: basic auth, a JSON
// body, the status, headers and parsed JSON answer; and a way to wait for
// an amqplib connection's close.
import type { ChannelModel } from 'amqplib';

export interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

export function api(baseUrl: string, auth = 'guest:guest') {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const h: Record<string, string> = { authorization: `Basic ${Buffer.from(auth).toString('base64')}`, ...headers };
    let payload: string | undefined;
    if (body !== undefined) {
      h['content-type'] = 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await fetch(baseUrl + path, { method, headers: h, body: payload });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text === '' ? undefined : JSON.parse(text) };
  };
}

/** Resolves with the error an amqplib connection closes with (a forced close arrives through 'close'). */
export function closedWith(conn: ChannelModel): Promise<Error & { code?: number }> {
  conn.on('error', () => undefined);
  return new Promise((resolve) => conn.on('close', (err: Error & { code?: number }) => resolve(err)));
}

export const enc = encodeURIComponent;
