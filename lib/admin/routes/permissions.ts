/**
 * Permissions (administrator only, as RabbitMQ): GET /api/permissions,
 * GET / PUT / DELETE /api/permissions/{vhost}/{user}.
 *
 * As RabbitMQ 3.10.8 (compared against a scratch node):
 *  - a permission is {user, vhost, configure, write, read};
 *  - PUT needs all three patterns (400 "[{key_missing,read}]"), 201 new,
 *    204 replaced; an unknown user or vhost is 400
 *    "vhost_or_user_not_found"; a pattern that is not a regular expression
 *    is 400 ["invalid_regexp", pattern, why] (RabbitMQ's term carries the
 *    pattern and PCRE's message as character lists);
 *  - GET and DELETE of a permission that does not exist are 404;
 *  - connections already open apply the new patterns from their next
 *    operation (403 ACCESS_REFUSED), as RabbitMQ does; none is closed.
 * Difference: a pattern that is not a string is 400 ["not_string", v]
 * (RabbitMQ answers 500).
 */
import { listReply } from './resource-json.js';
import { compilePermissionRegex, UserError } from '../../auth/users.js';
import { badRequest, created, noContent, notFound } from '../http-api.js';
import type { ApiRequest, Route } from '../http-api.js';
import { permissionJson } from './users.js';
import { bodyObject } from './vhosts.js';

const KINDS = ['configure', 'write', 'read'] as const;

function get(req: ApiRequest): unknown {
  const p = req.ctx.broker.users.permission(req.params.user!, req.params.vhost!);
  if (!p) throw notFound();
  return permissionJson(p);
}

async function put(req: ApiRequest): Promise<unknown> {
  const { broker } = req.ctx;
  const { vhost, user } = req.params as { vhost: string; user: string };
  const body = bodyObject(req);
  const patterns = {} as Record<(typeof KINDS)[number], string>;
  for (const kind of KINDS) {
    const v = body[kind];
    if (v === undefined || v === null) throw badRequest(`[{key_missing,${kind}}]`);
    if (typeof v !== 'string') throw badRequest(['not_string', v]);
    try {
      compilePermissionRegex(v);
    } catch (err) {
      if (err instanceof UserError) throw badRequest(['invalid_regexp', v, err.message]);
      throw err;
    }
    patterns[kind] = v;
  }
  if (!broker.vhosts.has(vhost) || !broker.users.get(user)) throw badRequest('vhost_or_user_not_found');
  const isNew = broker.users.permission(user, vhost) === undefined;
  broker.users.setPermissions({ user, vhost, ...patterns });
  await broker.definitionsSaved();
  return isNew ? created() : noContent();
}

async function remove(req: ApiRequest): Promise<unknown> {
  const { broker } = req.ctx;
  if (!broker.users.clearPermissions(req.params.user!, req.params.vhost!)) throw notFound();
  await broker.definitionsSaved();
  return noContent();
}

export const routes: Route[] = [
  { method: 'GET', path: '/api/permissions', tag: 'administrator', handler: (req) => listReply(req, req.ctx.broker.users.allPermissions().map(permissionJson), ['vhost', 'user'], false) },
  { method: 'GET', path: '/api/permissions/:vhost/:user', tag: 'administrator', handler: get },
  { method: 'PUT', path: '/api/permissions/:vhost/:user', tag: 'administrator', handler: put },
  { method: 'DELETE', path: '/api/permissions/:vhost/:user', tag: 'administrator', handler: remove },
];
