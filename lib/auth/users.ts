/**
 * UserRegistry: the internal users (name, password hash, tags) and their
 * per-vhost permissions, with RabbitMQ's authentication and
 * resource-permission semantics (rabbit_auth_backend_internal). Vhosts live
 * elsewhere; the broker passes vhost names and calls deleteVhost when one
 * goes away. Persistence is the caller's job (see lib/store/).
 *
 * Authentication, as RabbitMQ does it:
 *  - a blank password is refused before the user is even looked up;
 *  - an unknown user and a wrong password give the same reason,
 *    "user 'bob' - invalid credentials";
 *  - a passwordless user (empty hash) can never log in with a password.
 *
 * Permission checks, as RabbitMQ does it: the configured regex is run
 * against the resource name UNANCHORED (`re:run(Name, Re, [{capture,none}])`,
 * a match anywhere counts), so 'amq' allows 'my-amq-queue'; anchor with
 * ^...$ to restrict. An empty permission string is replaced by '^$' (so it
 * matches only the empty name, i.e. effectively nothing). A user with no
 * permission entry on the vhost is denied everything. RabbitMQ checks the
 * default exchange ('') under the name 'amq.default': callers pass
 * 'amq.default' for it. Patterns are PCRE (Erlang `re`); they are translated
 * to JavaScript where the two differ in ways that matter (PCRE `$` also
 * matches before a final newline, \A \z \Z, \Q..\E, a leading `]` in a
 * class, leading inline flags such as `(?i)`); POSIX classes are not
 * translated.
 */
import {
  DEFAULT_HASHING_ALGORITHM,
  checkPassword,
  hashPassword,
} from './password-hash.js';
import type { HashingAlgorithm } from './password-hash.js';

export interface User {
  name: string;
  /** base64(salt ++ hash); '' for a passwordless user */
  passwordHash: string;
  hashingAlgorithm: HashingAlgorithm;
  tags: string[];
}

export interface Permission {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export type PermissionKind = 'configure' | 'write' | 'read';

export type AuthResult = { ok: true; user: User } | { ok: false; reason: string };

export class UserError extends Error {
  override name = 'UserError';
}

/** Hash compared against when the user does not exist, so both paths cost the same. */
const DUMMY_HASH = hashPassword('', DEFAULT_HASHING_ALGORITHM, Buffer.alloc(4));

const END_OF_INPUT = '(?![\\s\\S])';
/** PCRE `$` without multiline: end of subject, or before a newline that ends it. */
const PCRE_DOLLAR = `(?=\\n?${END_OF_INPUT})`;

function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/**
 * Compile a permission pattern with RabbitMQ's semantics (see the header).
 * Throws UserError when the pattern is not a valid regular expression.
 */
export function compilePermissionRegex(pattern: string): RegExp {
  let src = pattern === '' ? '^$' : pattern;
  let flags = '';
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(src);
  if (lead) {
    for (const f of new Set(lead[1]!)) {
      if (f !== 'i' && f !== 'm' && f !== 's') {
        throw new UserError(`regular expression '${pattern}' is invalid: unsupported inline option '(?${f})'`);
      }
      flags += f;
    }
    src = src.slice(lead[0].length);
  }
  const multiline = flags.includes('m');
  let out = '';
  let inClass = false;
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\\') {
      const n = src[i + 1];
      if (n === undefined) throw new UserError(`regular expression '${pattern}' is invalid: \\ at end of pattern`);
      if (n === 'Q') {
        const end = src.indexOf('\\E', i + 2);
        out += escapeLiteral(end < 0 ? src.slice(i + 2) : src.slice(i + 2, end));
        i = end < 0 ? src.length : end + 2;
        continue;
      }
      i += 2;
      if (n === 'E') continue; // a stray \E is ignored by PCRE
      if (!inClass && n === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && n === 'z') out += END_OF_INPUT;
      else if (!inClass && n === 'Z') out += PCRE_DOLLAR;
      else out += c + n;
      continue;
    }
    i++;
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
      if (src[i] === '^') out += src[i++];
      // PCRE: a ']' first in a class is a literal; in JavaScript '[]' is an empty class.
      if (src[i] === ']') {
        out += '\\]';
        i++;
      }
    } else if (c === '$' && !multiline) {
      out += PCRE_DOLLAR;
    } else {
      out += c;
    }
  }
  try {
    return new RegExp(out, flags);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new UserError(`regular expression '${pattern}' is invalid: ${msg}`);
  }
}

interface PermissionEntry {
  perm: Permission;
  compiled: Record<PermissionKind, RegExp>;
}

function copyUser(u: User): User {
  return { name: u.name, passwordHash: u.passwordHash, hashingAlgorithm: u.hashingAlgorithm, tags: [...u.tags] };
}

function copyPermission(p: Permission): Permission {
  return { user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read };
}

export class UserRegistry {
  private readonly users = new Map<string, User>();
  /** counts changes to permissions (set, cleared, or gone with their user or vhost), for checks that cache */
  version = 0;
  /** vhost -> user -> entry */
  private readonly perms = new Map<string, Map<string, PermissionEntry>>();

  get(name: string): User | undefined {
    const u = this.users.get(name);
    return u ? copyUser(u) : undefined;
  }

  list(): User[] {
    return [...this.users.values()].map(copyUser);
  }

  /** Create a user; `password` null makes a passwordless user. */
  add(name: string, password: string | null, tags: string[] = []): User {
    if (typeof name !== 'string' || name === '') throw new UserError('user name must be a non-empty string');
    if (this.users.has(name)) throw new UserError(`user '${name}' already exists`);
    const user: User = {
      name,
      passwordHash: password === null ? '' : hashPassword(password, DEFAULT_HASHING_ALGORITHM),
      hashingAlgorithm: DEFAULT_HASHING_ALGORITHM,
      tags: [...tags],
    };
    this.users.set(name, user);
    return copyUser(user);
  }

  /** Create or replace (definitions import); existing permissions are kept. */
  put(user: User): void {
    if (typeof user.name !== 'string' || user.name === '') throw new UserError('user name must be a non-empty string');
    this.users.set(user.name, copyUser(user));
  }

  /** Delete a user and all of its permissions; false if there was no such user. */
  delete(name: string): boolean {
    if (!this.users.delete(name)) return false;
    this.version++;
    for (const [vhost, byUser] of this.perms) {
      byUser.delete(name);
      if (byUser.size === 0) this.perms.delete(vhost);
    }
    return true;
  }

  /** Set a new password (hashed with the default algorithm); null clears it. */
  changePassword(name: string, password: string | null): void {
    const user = this.mustGet(name);
    user.passwordHash = password === null ? '' : hashPassword(password, DEFAULT_HASHING_ALGORITHM);
    user.hashingAlgorithm = DEFAULT_HASHING_ALGORITHM;
  }

  setTags(name: string, tags: string[]): void {
    this.mustGet(name).tags = [...tags];
  }

  authenticate(username: string, password: string): AuthResult {
    if (password === '') {
      return {
        ok: false,
        reason:
          `user '${username}' attempted to log in with a blank password, which is prohibited by the internal authN backend. ` +
          'To use TLS/x509 certificate-based authentication, see the rabbitmq_auth_mechanism_ssl plugin and configure ' +
          'the client to use the EXTERNAL authentication mechanism. Alternatively change the password for the user to be non-blank.',
      };
    }
    const user = this.users.get(username);
    const matches = user
      ? checkPassword(password, user.passwordHash, user.hashingAlgorithm)
      : checkPassword(password, DUMMY_HASH, DEFAULT_HASHING_ALGORITHM) && false;
    if (!user || !matches) return { ok: false, reason: `user '${username}' - invalid credentials` };
    return { ok: true, user: copyUser(user) };
  }

  /** Set (create or replace) a user's permissions on a vhost. */
  setPermissions(p: Permission): void {
    if (!this.users.has(p.user)) throw new UserError(`no such user '${p.user}'`);
    if (typeof p.vhost !== 'string') throw new UserError('vhost must be a string');
    const compiled = {} as Record<PermissionKind, RegExp>;
    for (const kind of ['configure', 'write', 'read'] as const) {
      if (typeof p[kind] !== 'string') throw new UserError(`${kind} permission must be a string`);
      compiled[kind] = compilePermissionRegex(p[kind]);
    }
    let byUser = this.perms.get(p.vhost);
    if (!byUser) this.perms.set(p.vhost, (byUser = new Map()));
    byUser.set(p.user, { perm: copyPermission(p), compiled });
    this.version++;
  }

  clearPermissions(user: string, vhost: string): boolean {
    const byUser = this.perms.get(vhost);
    if (!byUser || !byUser.delete(user)) return false;
    if (byUser.size === 0) this.perms.delete(vhost);
    this.version++;
    return true;
  }

  permission(user: string, vhost: string): Permission | undefined {
    const entry = this.perms.get(vhost)?.get(user);
    return entry ? copyPermission(entry.perm) : undefined;
  }

  permissionsForVhost(vhost: string): Permission[] {
    return [...(this.perms.get(vhost)?.values() ?? [])].map((e) => copyPermission(e.perm));
  }

  permissionsForUser(user: string): Permission[] {
    const out: Permission[] = [];
    for (const byUser of this.perms.values()) {
      const entry = byUser.get(user);
      if (entry) out.push(copyPermission(entry.perm));
    }
    return out;
  }

  /** Drop every permission on a vhost (the vhost was deleted). */
  deleteVhost(vhost: string): void {
    this.perms.delete(vhost);
    this.version++;
  }

  allPermissions(): Permission[] {
    const out: Permission[] = [];
    for (const byUser of this.perms.values()) for (const e of byUser.values()) out.push(copyPermission(e.perm));
    return out;
  }

  /** Whether `user` has any permission entry on `vhost` (RabbitMQ's vhost access check). */
  canAccessVhost(user: string, vhost: string): boolean {
    return this.perms.get(vhost)?.has(user) ?? false;
  }

  /**
   * RabbitMQ's resource check: false without a permission entry, otherwise an
   * unanchored match of the kind's pattern against `resourceName` (pass
   * 'amq.default' for the default exchange).
   */
  check(user: string, vhost: string, kind: PermissionKind, resourceName: string): boolean {
    const entry = this.perms.get(vhost)?.get(user);
    if (!entry) return false;
    return entry.compiled[kind].test(resourceName);
  }

  private mustGet(name: string): User {
    const user = this.users.get(name);
    if (!user) throw new UserError(`no such user '${name}'`);
    return user;
  }
}
