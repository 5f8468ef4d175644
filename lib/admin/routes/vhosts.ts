/**
 * Virtual hosts: GET /api/vhosts (management: the vhosts the user has a
 * permission on; monitoring and administrator: all), GET / PUT / DELETE
 * /api/vhosts/{vhost} and GET /api/vhosts/{vhost}/permissions
 * (administrator, as in RabbitMQ 3.10, which refuses even a management
 * user's own vhost there).
 *
 * As RabbitMQ 3.10.8 (compared against a scratch node):
 *  - PUT creates (201) or updates (204); the body is optional; description
 *    and tags (a comma list or an array) replace the old ones (absent: ""
 *    and []); a vhost created this way gives its creator full permissions;
 *  - DELETE (204, 404 when missing) closes the vhost's connections with
 *    320 "CONNECTION_FORCED - vhost 'v' is down", deletes its queues,
 *    messages, exchanges and bindings, and every permission on it;
 *  - a body that is not a JSON object is 400 not_json.
 * Fields: name, description, tags, default_queue_type ("undefined" when
 * unset, as 3.10 shows it), metadata {description, tags}, tracing (always
 * false), cluster_state, messages, messages_ready, messages_unacknowledged.
 * Omitted: message_stats and the *_details rates, recv_oct / send_oct.
 * default_queue_type is kept and exported but does not change what
 * queue.declare creates (warren has classic queues only).
 */
import { listReply } from './resource-json.js';
import { hostname } from 'node:os';
import type { VirtualHost } from '../../broker/vhost.js';
import { badRequest, created, hasTag, noContent, notFound } from '../http-api.js';
import type { ApiRequest, Route } from '../http-api.js';

export const nodeName = (): string => `warren@${hostname()}`;

/** The body as an object (absent: {}), or RabbitMQ's 400 not_json. */
export function bodyObject(req: ApiRequest): Record<string, unknown> {
  if (req.body === undefined) return {};
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw badRequest('not_json');
  return req.body as Record<string, unknown>;
}

/** Tags as RabbitMQ takes them: a comma-separated string or an array of strings. */
export function tagList(v: unknown, name = 'tags'): string[] {
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v.map((s: string) => s.trim()).filter((s) => s !== '');
  throw badRequest([`${name}_not_a_list_of_strings`, v]);
}

export function vhostJson(vh: VirtualHost): Record<string, unknown> {
  let ready = 0;
  let unacked = 0;
  for (const q of vh.queues.values()) {
    ready += q.messageCount;
    unacked += q.unacked;
  }
  const description = vh.metadata.description ?? '';
  const tags = vh.metadata.tags ?? [];
  return {
    name: vh.name,
    description,
    tags,
    default_queue_type: vh.metadata.defaultQueueType ?? 'undefined',
    metadata: { description, tags },
    tracing: false,
    cluster_state: { [nodeName()]: 'running' },
    messages: ready + unacked,
    messages_ready: ready,
    messages_unacknowledged: unacked,
  };
}

function mustGet(req: ApiRequest): VirtualHost {
  const vh = req.ctx.broker.vhosts.get(req.params.vhost!);
  if (!vh) throw notFound();
  return vh;
}

/** Close a vhost's connections (RabbitMQ's text), before the vhost goes. */
export function closeVhostConnections(req: ApiRequest, vhost: string): void {
  for (const c of [...req.ctx.listener.connections]) if (c.vhost === vhost) c.closeForced(`vhost '${vhost}' is down`);
}

function list(req: ApiRequest): unknown {
  const { broker } = req.ctx;
  const all = hasTag(req.user.tags, 'monitoring');
  const visible = [...broker.vhosts.values()].filter((vh) => all || broker.users.canAccessVhost(req.user.name, vh.name));
  return listReply(req, visible.map(vhostJson), ['name']);
}

async function put(req: ApiRequest): Promise<unknown> {
  const { broker } = req.ctx;
  const body = bodyObject(req);
  const description = body.description ?? '';
  if (typeof description !== 'string') throw badRequest(['not_string', description]);
  const tags = body.tags === undefined || body.tags === null ? [] : tagList(body.tags);
  const dqt = body.default_queue_type;
  if (dqt !== undefined && typeof dqt !== 'string') throw badRequest(['not_string', dqt]);
  const name = req.params.vhost!;
  const isNew = broker.createVhost(name, { description, tags, ...(dqt !== undefined && dqt !== 'undefined' ? { defaultQueueType: dqt } : {}) });
  if (isNew) broker.users.setPermissions({ user: req.user.name, vhost: name, configure: '.*', write: '.*', read: '.*' });
  await broker.definitionsSaved();
  return isNew ? created() : noContent();
}

async function remove(req: ApiRequest): Promise<unknown> {
  const { broker } = req.ctx;
  const vh = mustGet(req);
  closeVhostConnections(req, vh.name);
  broker.deleteVhost(vh.name);
  await broker.definitionsSaved();
  return noContent();
}

function permissions(req: ApiRequest): unknown {
  const vh = mustGet(req);
  return req.ctx.broker.users.permissionsForVhost(vh.name).map((p) => ({ vhost: p.vhost, user: p.user, configure: p.configure, write: p.write, read: p.read }));
}

export const routes: Route[] = [
  { method: 'GET', path: '/api/vhosts', tag: 'management', handler: list },
  { method: 'GET', path: '/api/vhosts/:vhost', tag: 'administrator', handler: (req) => vhostJson(mustGet(req)) },
  { method: 'PUT', path: '/api/vhosts/:vhost', tag: 'administrator', handler: put },
  { method: 'DELETE', path: '/api/vhosts/:vhost', tag: 'administrator', handler: remove },
  { method: 'GET', path: '/api/vhosts/:vhost/permissions', tag: 'administrator', handler: permissions },
];
