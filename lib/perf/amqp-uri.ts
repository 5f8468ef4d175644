/**
 * amqp:// URIs as RabbitMQ's clients read them (https://www.rabbitmq.com/docs/uri-spec):
 * amqp://user:pass@host:port/vhost, each part percent-decoded, defaults
 * guest / guest / localhost / 5672 / "/". An empty path ("amqp://host/") is
 * also taken as "/", as amqplib and PerfTest do. amqps:// is refused: warren-perf
 * speaks plain TCP only.
 */
import type { AmqpTarget } from './raw-connection.js';

export function parseAmqpUri(uri: string): AmqpTarget {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`not a URI: ${uri}`);
  }
  if (url.protocol === 'amqps:') throw new Error('amqps:// is not supported by warren-perf (plain amqp:// only)');
  if (url.protocol !== 'amqp:') throw new Error(`not an amqp:// URI: ${uri}`);
  const port = url.port === '' ? 5672 : Number(url.port);
  const host = url.hostname === '' ? 'localhost' : url.hostname.replace(/^\[(.*)\]$/, '$1');
  const path = url.pathname.replace(/^\//, '');
  return {
    host,
    port,
    vhost: path === '' ? '/' : decodeURIComponent(path),
    username: url.username === '' ? 'guest' : decodeURIComponent(url.username),
    password: url.password === '' && url.username === '' ? 'guest' : decodeURIComponent(url.password),
  };
}

/** The URI without its password, for reports. */
export function redactUri(uri: string): string {
  try {
    const url = new URL(uri);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return uri;
  }
}
