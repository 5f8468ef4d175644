/**
 * Users (administrator only, as RabbitMQ): GET /api/users,
 * /api/users/without-permissions, GET / PUT / DELETE /api/users/{name},
 * GET /api/users/{name}/permissions, POST /api/users/bulk-delete.
 *
 * As RabbitMQ 3.10.8 (compared against a scratch node):
 *  - a user is {name, password_hash, hashing_algorithm, tags (an array),
 *    limits ({}: warren has no user limits)};
 *  - PUT needs "tags" (a comma list or an array; 400 "tags_not_present"),
 *    and takes "password" (hashed with SHA-256, the default, whatever
 *    hashing_algorithm says) or "password_hash" with an optional
 *    "hashing_algorithm" (400 "both_password_and_password_hash_are_provided"
 *    for both); with neither
 *    the user has no password (an existing user's password is cleared, as
 *    RabbitMQ does); 201 new, 204 existing; a hash that is not base64 is
 *    400 ["not_base64", hash];
 *  - DELETE (204, 404) closes the user's connections with 320
 *    "CONNECTION_FORCED - user 'u' is deleted" and drops its permissions.
 * Differences: RabbitMQ stores an unknown hashing_algorithm as given, warren
 * answers 400 ["unknown_hashing_algorithm", name] (it could never check the
 * password); a non-string password or tag is 400 here (500 or coerced
 * there); bulk-delete checks every name first and deletes nothing when one
 * is unknown (RabbitMQ deletes those before the unknown one, then answers
 * 400 ["no_such_user", name]).
 */
import { listReply } from './resource-json.js';
import { hashPassword, isHashingAlgorithm, DEFAULT_HASHING_ALGORITHM } from '../../auth/password-hash.js';
import type { HashingAlgorithm } from '../../auth/password-hash.js';
import type { User } from '../../auth/users.js';
import { badRequest, created, noContent, notFound } from '../http-api.js';
import type { ApiRequest, Route } from '../http-api.js';
import { bodyObject, tagList } from './vhosts.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function userJson(u: User): Record<string, unknown> {
  return { name: u.name, password_hash: u.passwordHash, hashing_algorithm: u.hashingAlgorithm, tags: u.tags, limits: {} };
}

export function permissionJson(p: { user: string; vhost: string; configure: string; write: string; read: string }): Record<string, unknown> {
  return { user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read };
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function mustGet(req: ApiRequest): User {
  const u = req.ctx.broker.users.get(req.params.name!);
  if (!u) throw notFound();
  return u;
}

/** Close a user's connections (RabbitMQ's text), as the user goes. */
function closeUserConnections(req: ApiRequest, name: string): void {
  for (const c of [...req.ctx.listener.connections]) if (c.user?.name === name) c.closeForced(`user '${name}' is deleted`);
}

async function put(req: ApiRequest): Promise<unknown> {
  const { broker } = req.ctx;
  const name = req.params.name!;
  const body = bodyObject(req);
  if (body.tags === undefined || body.tags === null) throw badRequest('tags_not_present');
  const tags = tagList(body.tags);
  const { password, password_hash: hash, hashing_algorithm: algorithm } = body;
  if (password !== undefined && hash !== undefined) throw badRequest('both_password_and_password_hash_are_provided');
  // a password is hashed with the default algorithm whatever hashing_algorithm says (as RabbitMQ)
  let hashing: HashingAlgorithm = DEFAULT_HASHING_ALGORITHM;
  let passwordHash = '';
  if (password !== undefined && password !== null) {
    if (typeof password !== 'string') throw badRequest(['not_string', password]);
    passwordHash = hashPassword(password, hashing);
  } else if (hash !== undefined && hash !== null) {
    if (typeof hash !== 'string' || hash.length % 4 !== 0 || !BASE64.test(hash)) throw badRequest(['not_base64', hash]);
    const given = algorithm ?? DEFAULT_HASHING_ALGORITHM;
    if (!isHashingAlgorithm(given)) throw badRequest(['unknown_hashing_algorithm', given]);
    hashing = given;
    passwordHash = hash;
  }
  const isNew = broker.users.get(name) === undefined;
  broker.users.put({ name, passwordHash, hashingAlgorithm: hashing, tags });
  await broker.definitionsSaved();
  return isNew ? created() : noContent();
}

async function remove(req: ApiRequest): Promise<unknown> {
  const { broker } = req.ctx;
  const u = mustGet(req);
  closeUserConnections(req, u.name);
  broker.users.delete(u.name);
  await broker.definitionsSaved();
  return noContent();
}

async function bulkDelete(req: ApiRequest): Promise<unknown> {
  const { broker } = req.ctx;
  const body = bodyObject(req);
  const names = body.users;
  if (names === undefined) throw badRequest('[{key_missing,users}]');
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw badRequest(['not_a_list_of_strings', names]);
  for (const n of names as string[]) if (!broker.users.get(n)) throw badRequest(['no_such_user', n]);
  for (const n of names as string[]) {
    closeUserConnections(req, n);
    broker.users.delete(n);
  }
  await broker.definitionsSaved();
  return noContent();
}

function withoutPermissions(req: ApiRequest): unknown {
  const { users } = req.ctx.broker;
  return users.list().filter((u) => users.permissionsForUser(u.name).length === 0).sort(byName).map(userJson);
}

export const routes: Route[] = [
  { method: 'GET', path: '/api/users', tag: 'administrator', handler: (req) => listReply(req, req.ctx.broker.users.list().map(userJson), ['name'], false) },
  { method: 'GET', path: '/api/users/without-permissions', tag: 'administrator', handler: withoutPermissions },
  { method: 'POST', path: '/api/users/bulk-delete', tag: 'administrator', handler: bulkDelete },
  { method: 'GET', path: '/api/users/:name', tag: 'administrator', handler: (req) => userJson(mustGet(req)) },
  { method: 'PUT', path: '/api/users/:name', tag: 'administrator', handler: put },
  { method: 'DELETE', path: '/api/users/:name', tag: 'administrator', handler: remove },
  {
    method: 'GET', path: '/api/users/:name/permissions', tag: 'administrator',
    handler: (req) => req.ctx.broker.users.permissionsForUser(mustGet(req).name).map(permissionJson),
  },
];
