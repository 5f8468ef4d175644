/**
 * Connections, channels and consumers: GET /api/connections,
 * /api/vhosts/{vhost}/connections, GET / DELETE /api/connections/{name},
 * /api/connections/{name}/channels, /api/channels,
 * /api/vhosts/{vhost}/channels, /api/channels/{name}, /api/consumers,
 * /api/consumers/{vhost}.
 *
 * Who sees what, as RabbitMQ: monitoring and administrator users see every
 * connection; a management user sees (and may close) only connections
 * logged in with its own user name; asking for another's is 403 "User not
 * authorised to access object" (RabbitMQ: 401), and for the connections of
 * a vhost the user has no permission on, 403 "User not authorised to
 * access virtual host". Only connections past connection.open are listed.
 *
 * Names as RabbitMQ: a connection is "127.0.0.1:54321 -> 127.0.0.1:5672",
 * its channel "127.0.0.1:54321 -> 127.0.0.1:5672 (1)". DELETE closes it
 * with 320 "CONNECTION_FORCED - Closed via management plugin", or the text
 * of the X-Reason header.
 *
 * Fields warren reports, by RabbitMQ 3.10.8's names (compared against a
 * scratch node): connection: name, node, type, user,
 * user_who_performed_action, vhost, host, port, peer_host, peer_port, ssl,
 * protocol, auth_mechanism (once the handshake records it),
 * client_properties, user_provided_name, connected_at, timeout, frame_max,
 * channel_max, channels, state. Omitted: recv_oct, send_oct, recv_cnt,
 * send_cnt, send_pend and their rates, garbage_collection, reductions, the
 * ssl_* and peer_cert_* fields.
 * Channel: name, node, number, user, user_who_performed_action, vhost,
 * connection_details {name, peer_host, peer_port}, consumer_count,
 * messages_unacknowledged, prefetch_count, global_prefetch_count, confirm,
 * transactional, state (running, closing); a single channel adds
 * consumer_details. Omitted: messages_unconfirmed, messages_uncommitted,
 * acks_uncommitted, idle_since, pending_raft_commands, garbage_collection,
 * reductions, message_stats.
 * Consumer: consumer_tag, queue {name, vhost}, channel_details {name,
 * number, user, connection_name, peer_host, peer_port, node},
 * ack_required, prefetch_count, exclusive, arguments (only x-priority is
 * kept), active (always true, also for the waiting consumers of a
 * single-active-consumer queue), activity_status "up".
 */
import { listReply } from './resource-json.js';
import { Typed } from '../../amqp/field-table.js';
import type { FieldValue } from '../../amqp/field-table.js';
import type { Channel } from '../../server/channel.js';
import type { Connection } from '../../server/connection.js';
import type { Consumer } from '../../server/consumer.js';
import { forbidden, hasTag, noContent, notFound } from '../http-api.js';
import type { ApiRequest, Route } from '../http-api.js';
import { nodeName } from './vhosts.js';

const DEFAULT_CLOSE_REASON = 'Closed via management plugin';

/** A field table as RabbitMQ's JSON shows it: long strings as strings, timestamps as seconds. */
function jsonValue(v: FieldValue): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Typed) return v.toJSON();
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)]));
  return v;
}

const seesAll = (req: ApiRequest): boolean => hasTag(req.user.tags, 'monitoring');

/** Open connections the user may see, optionally of one vhost. */
function visible(req: ApiRequest, vhost?: string): Connection[] {
  const all = seesAll(req);
  return [...req.ctx.listener.connections]
    .filter((c) => c.vhost !== null && c.user !== null && (vhost === undefined || c.vhost === vhost))
    .filter((c) => all || c.user!.name === req.user.name)
    .sort((a, b) => a.connectedAt - b.connectedAt || a.id - b.id);
}

/** The vhost of a /api/vhosts/{vhost}/... or /api/consumers/{vhost} path: 404 when missing, 403 without access. */
function vhostParam(req: ApiRequest, refuse: boolean): string {
  const name = req.params.vhost!;
  if (!req.ctx.broker.vhosts.has(name)) throw notFound();
  if (refuse && !seesAll(req) && !req.ctx.broker.users.canAccessVhost(req.user.name, name)) throw forbidden('User not authorised to access virtual host');
  return name;
}

function findConnection(req: ApiRequest): Connection {
  const c = [...req.ctx.listener.connections].find((x) => x.name === req.params.name && x.vhost !== null && x.user !== null);
  if (!c) throw notFound();
  if (!seesAll(req) && c.user!.name !== req.user.name) throw forbidden('User not authorised to access object');
  return c;
}

export function connectionJson(c: Connection): Record<string, unknown> {
  const props = jsonValue(c.clientProperties) as Record<string, unknown>;
  const user = c.user!.name;
  return {
    name: c.name,
    node: nodeName(),
    type: 'network',
    user,
    user_who_performed_action: user,
    vhost: c.vhost,
    host: c.localAddress,
    port: c.localPort,
    peer_host: c.remoteAddress,
    peer_port: c.peerPort,
    ssl: false,
    protocol: 'AMQP 0-9-1',
    ...(c.authMechanism !== null ? { auth_mechanism: c.authMechanism } : {}),
    client_properties: props,
    ...(typeof props.connection_name === 'string' ? { user_provided_name: props.connection_name } : {}),
    connected_at: c.connectedAt,
    timeout: c.heartbeatSeconds,
    frame_max: c.frameMax,
    channel_max: c.channelMax,
    channels: c.channelCount,
    state: c.stateName,
  };
}

const channelName = (c: Connection, ch: Channel): string => `${c.name} (${ch.id})`;

function consumerJson(c: Connection, ch: Channel, k: Consumer): Record<string, unknown> {
  return {
    consumer_tag: k.tag,
    queue: { name: k.queue.name, vhost: k.queue.vhost },
    channel_details: {
      name: channelName(c, ch), number: ch.id, user: c.user!.name, connection_name: c.name,
      peer_host: c.remoteAddress, peer_port: c.peerPort, node: nodeName(),
    },
    ack_required: !k.noAck,
    prefetch_count: k.prefetch,
    exclusive: k.exclusive,
    arguments: k.priority !== 0 ? { 'x-priority': k.priority } : {},
    active: true,
    activity_status: 'up',
  };
}

function channelJson(c: Connection, ch: Channel): Record<string, unknown> {
  const user = c.user!.name;
  return {
    name: channelName(c, ch),
    node: nodeName(),
    number: ch.id,
    user,
    user_who_performed_action: user,
    vhost: c.vhost,
    connection_details: { name: c.name, peer_host: c.remoteAddress, peer_port: c.peerPort },
    consumer_count: ch.consumers.size,
    messages_unacknowledged: ch.unacked.size,
    prefetch_count: ch.consumerPrefetch,
    global_prefetch_count: ch.channelPrefetch,
    confirm: ch.confirms !== null,
    transactional: ch.tx !== null,
    state: ch.isOpen ? 'running' : 'closing',
  };
}

function channelsOf(conns: Connection[]): Record<string, unknown>[] {
  return conns.flatMap((c) => c.openChannels().sort((a, b) => a.id - b.id).map((ch) => channelJson(c, ch)));
}

function consumersOf(conns: Connection[]): Record<string, unknown>[] {
  return conns.flatMap((c) => c.openChannels().flatMap((ch) => [...ch.consumers.values()].map((k) => consumerJson(c, ch, k))));
}

function channel(req: ApiRequest): unknown {
  const all = seesAll(req);
  for (const c of req.ctx.listener.connections) {
    if (c.vhost === null || c.user === null) continue;
    for (const ch of c.openChannels()) {
      if (channelName(c, ch) !== req.params.name) continue;
      if (!all && c.user.name !== req.user.name) throw forbidden('User not authorised to access object');
      return { ...channelJson(c, ch), consumer_details: [...ch.consumers.values()].map((k) => consumerJson(c, ch, k)) };
    }
  }
  throw notFound();
}

function close(req: ApiRequest): unknown {
  const c = findConnection(req);
  // the X-Reason header, where the HTTP frame passes headers on (see the header comment)
  const given = req.headers['x-reason'];
  const reason = typeof given === 'string' && given !== '' ? given : DEFAULT_CLOSE_REASON;
  c.closeForced(reason);
  return noContent();
}

export const routes: Route[] = [
  { method: 'GET', path: '/api/connections', tag: 'management', handler: (req) => listReply(req, visible(req).map(connectionJson), ['name']) },
  { method: 'GET', path: '/api/vhosts/:vhost/connections', tag: 'management', handler: (req) => listReply(req, visible(req, vhostParam(req, true)).map(connectionJson), ['name']) },
  { method: 'GET', path: '/api/connections/:name', tag: 'management', handler: (req) => connectionJson(findConnection(req)) },
  { method: 'DELETE', path: '/api/connections/:name', tag: 'management', handler: close },
  { method: 'GET', path: '/api/connections/:name/channels', tag: 'management', handler: (req) => channelsOf([findConnection(req)]) },
  { method: 'GET', path: '/api/channels', tag: 'management', handler: (req) => listReply(req, channelsOf(visible(req)), ['name']) },
  { method: 'GET', path: '/api/vhosts/:vhost/channels', tag: 'management', handler: (req) => listReply(req, channelsOf(visible(req, vhostParam(req, true))), ['name']) },
  { method: 'GET', path: '/api/channels/:name', tag: 'management', handler: channel },
  { method: 'GET', path: '/api/consumers', tag: 'management', handler: (req) => listReply(req, consumersOf(visible(req)), ['queue.name', 'consumer_tag'], false) },
  { method: 'GET', path: '/api/consumers/:vhost', tag: 'management', handler: (req) => listReply(req, consumersOf(visible(req, vhostParam(req, false))), ['queue.name', 'consumer_tag'], false) },
];
