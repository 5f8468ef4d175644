/**
 * Planning a definitions import (POST /api/definitions[/{vhost}],
 * load_definitions at start): every entry is checked against the broker's
 * state before anything changes, so an import either fails as a whole
 * (ImportError, the HTTP API's 400) or applies whole (Broker.importDefinitions
 * applies the plan). What warren does not support is skipped and reported.
 *
 * Failures, with RabbitMQ 3.10's reason terms where it has one:
 *  - ["no_such_vhost", v], ["no_such_user", u] for a permission or an entity
 *    naming a vhost or user that neither exists nor is imported;
 *  - ["invalid_regexp", pattern, why] for a permission pattern;
 *  - ["not_base64", hash], ["unknown_hashing_algorithm", name] for a user;
 *  - the entity failures of durable-entities.ts.
 * Skipped and reported (warren has no such feature): policies, runtime and
 * global parameters (the cluster id RabbitMQ always exports is ignored
 * silently), topic permissions, user and vhost limits, and the entity
 * skips of durable-entities.ts.
 *
 * Existing users are replaced (password, tags; their permissions stay);
 * existing vhosts keep their contents and take the metadata an entry gives;
 * permissions are set. A vhost-scoped import considers only policies,
 * parameters, queues, exchanges and bindings, all in that vhost.
 */
import { isHashingAlgorithm, hashPassword } from '../auth/password-hash.js';
import { compilePermissionRegex, UserError } from '../auth/users.js';
import type { Permission, User, UserRegistry } from '../auth/users.js';
import { DefinitionsError } from '../store/definitions-store.js';
import type { Definitions } from '../store/definitions-store.js';
import { planDurableEntities } from './durable-entities.js';
import type { EntityPlan, SkippedEntry } from './durable-entities.js';
import { VirtualHost } from './vhost.js';
import type { VhostMetadata } from './vhost.js';

export type { SkippedEntry } from './durable-entities.js';

/** An import refused as a whole; `reason` is the HTTP API's 400 reason (RabbitMQ's term where it has one). */
export class ImportError extends DefinitionsError {
  override name = 'ImportError';
  constructor(readonly reason: unknown) {
    super(typeof reason === 'string' ? reason : JSON.stringify(reason));
  }
}

export interface ImportPlan {
  users: User[];
  /** vhosts to create, not yet registered with the broker */
  newVhosts: VirtualHost[];
  metadata: { vhost: VirtualHost; metadata: VhostMetadata }[];
  permissions: Permission[];
  entities: EntityPlan;
  skipped: SkippedEntry[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const isEmpty = (v: unknown): boolean => v === undefined || v === null || (Array.isArray(v) ? v.length === 0 : isObj(v) && Object.keys(v).length === 0);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The metadata a vhost entry gives (3.11+ exports also nest it under "metadata"), or null when it gives none. */
function vhostMetadata(v: Obj): VhostMetadata | null {
  const nested = isObj(v.metadata) ? v.metadata : {};
  const description = str(v.description) ?? str(nested.description);
  const rawTags = v.tags ?? nested.tags;
  const tags = Array.isArray(rawTags) ? rawTags.filter((t): t is string => typeof t === 'string') : typeof rawTags === 'string' ? rawTags.split(',').map((t) => t.trim()).filter(Boolean) : undefined;
  const defaultQueueType = str(v.default_queue_type) ?? str(nested.default_queue_type);
  if (description === undefined && tags === undefined && defaultQueueType === undefined) return null;
  return {
    ...(description !== undefined ? { description } : {}),
    ...(tags !== undefined ? { tags } : {}),
    ...(defaultQueueType !== undefined && defaultQueueType !== 'undefined' ? { defaultQueueType } : {}),
  };
}

/** The entries of a vhost-scoped import, moved into that vhost (RabbitMQ ignores a "vhost" they carry). */
function scoped(list: unknown[], vhost: string): unknown[] {
  return list.map((e) => (isObj(e) ? { ...e, vhost } : e));
}

/** Check `defs` (normalized) against the broker's vhosts and users; throws ImportError on the first failure. */
export function planImport(defs: Definitions, vhosts: ReadonlyMap<string, VirtualHost>, registry: UserRegistry, onlyVhost?: string): ImportPlan {
  const plan: ImportPlan = { users: [], newVhosts: [], metadata: [], permissions: [], entities: { exchanges: [], queues: [], bindings: [], skipped: [], failures: [] }, skipped: [] };
  const all = onlyVhost === undefined;
  const imported = new Map<string, VirtualHost>();
  const importedUsers = new Set<string>();

  if (all) {
    defs.users.forEach((u, i) => {
      if (u.name === '') throw new ImportError(`users[${i}]: name must not be empty`);
      if (!isHashingAlgorithm(u.hashing_algorithm)) throw new ImportError(['unknown_hashing_algorithm', u.hashing_algorithm]);
      let passwordHash = u.password_hash;
      if (passwordHash !== '' && (passwordHash.length % 4 !== 0 || !BASE64.test(passwordHash))) throw new ImportError(['not_base64', passwordHash]);
      if (passwordHash === '' && typeof u.password === 'string' && u.password !== '') passwordHash = hashPassword(u.password, u.hashing_algorithm);
      const tags = Array.isArray(u.tags) ? u.tags : u.tags.split(',').filter(Boolean);
      plan.users = plan.users.filter((x) => x.name !== u.name);
      plan.users.push({ name: u.name, passwordHash, hashingAlgorithm: u.hashing_algorithm, tags });
      importedUsers.add(u.name);
      if (!isEmpty(u.limits)) plan.skipped.push({ kind: 'user_limits', name: u.name, reason: 'user limits are not supported' });
    });

    defs.vhosts.forEach((v, i) => {
      if (v.name === '') throw new ImportError(`vhosts[${i}]: name must not be empty`);
      const metadata = vhostMetadata(v as unknown as Obj);
      const existing = vhosts.get(v.name);
      if (existing) {
        if (metadata) plan.metadata.push({ vhost: existing, metadata: { ...existing.metadata, ...metadata } });
      } else if (!imported.has(v.name)) {
        const vh = new VirtualHost(v.name, metadata ?? {});
        imported.set(v.name, vh);
        plan.newVhosts.push(vh);
      }
      if (!isEmpty((v as unknown as Obj).limits)) plan.skipped.push({ kind: 'vhost_limits', vhost: v.name, reason: 'vhost limits are not supported' });
    });

    for (const p of defs.permissions) {
      if (!registry.get(p.user) && !importedUsers.has(p.user)) throw new ImportError(['no_such_user', p.user]);
      if (!vhosts.has(p.vhost) && !imported.has(p.vhost)) throw new ImportError(['no_such_vhost', p.vhost]);
      for (const pattern of [p.configure, p.write, p.read]) {
        try {
          compilePermissionRegex(pattern);
        } catch (err) {
          if (err instanceof UserError) throw new ImportError(['invalid_regexp', pattern, err.message]);
          throw err;
        }
      }
      plan.permissions.push({ user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read });
    }

    for (const e of defs.topic_permissions) {
      const o = isObj(e) ? e : {};
      plan.skipped.push({ kind: 'topic_permission', vhost: str(o.vhost), name: str(o.user), reason: 'topic permissions are not supported' });
    }
    for (const e of defs.global_parameters) {
      const o = isObj(e) ? e : {};
      if (o.name === 'internal_cluster_id') continue;
      plan.skipped.push({ kind: 'global_parameter', name: str(o.name), reason: 'global parameters are not supported' });
    }
  }

  const scope = onlyVhost;
  const pick = (list: unknown[]): unknown[] => (scope === undefined ? list : scoped(list, scope));
  for (const e of pick(defs.parameters)) {
    const o = isObj(e) ? e : {};
    plan.skipped.push({ kind: 'parameter', vhost: str(o.vhost), name: `${str(o.component) ?? '?'}/${str(o.name) ?? '?'}`, reason: 'runtime parameters are not supported' });
  }
  for (const e of pick(defs.policies)) {
    const o = isObj(e) ? e : {};
    plan.skipped.push({ kind: 'policy', vhost: str(o.vhost), name: str(o.name), reason: 'policies are not supported' });
  }

  const targets = new Map<string, VirtualHost>([...vhosts, ...imported]);
  const entities = planDurableEntities({ exchanges: pick(defs.exchanges), queues: pick(defs.queues), bindings: pick(defs.bindings) }, targets);
  if (entities.failures.length > 0) throw new ImportError(entities.failures[0]);
  plan.entities = entities;
  plan.skipped.push(...entities.skipped);
  return plan;
}
