/**
 * The persisted definitions file, <dataDir>/definitions.json, in RabbitMQ's
 * definitions JSON format (`rabbitmqctl export_definitions`,
 * GET /api/definitions), so RabbitMQ exports can be imported and ours read
 * back by RabbitMQ.
 *
 * Owns: the Definitions types, their validation/normalization
 * (normalizeDefinitions), and DefinitionsStore, which loads the file at boot
 * and saves it atomically and durably: write a temp file, fsync it, rename
 * it over the real file, fsync the directory. A crash at any point leaves
 * either the old or the new file whole; a leftover temp file is removed on
 * the next load. Saves are serialized and coalesced (see save()).
 *
 * Normalization follows RabbitMQ's import rules where they matter:
 *  - user tags may be a comma-separated string (3.x exports) or an array;
 *    they are always written back as an array;
 *  - a user without hashing_algorithm was hashed with MD5 if the file comes
 *    from RabbitMQ 3.0-3.5, otherwise with the default (SHA-256);
 *  - a user may carry a plaintext `password` instead of `password_hash`
 *    (accepted by RabbitMQ's import; the importer hashes it);
 *  - unknown fields of entries are kept, missing arrays become [].
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, open, rename as fsRename, rm } from 'node:fs/promises';
import { fsyncDir } from './durable-files.js';
import { join } from 'node:path';

export interface UserDefinition {
  name: string;
  password_hash: string;
  hashing_algorithm: string;
  tags: string[] | string;
  limits?: Record<string, unknown>;
  /** plaintext password (hand-written files only; RabbitMQ never exports it) */
  password?: string;
}

export interface VhostDefinition {
  name: string;
  description?: string;
  tags?: string[];
  default_queue_type?: string;
  metadata?: Record<string, unknown>;
}

export interface PermissionDefinition {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface Definitions {
  rabbit_version?: string;
  rabbitmq_version?: string;
  product_name?: string;
  product_version?: string;
  users: UserDefinition[];
  vhosts: VhostDefinition[];
  permissions: PermissionDefinition[];
  topic_permissions: unknown[];
  parameters: unknown[];
  global_parameters: unknown[];
  policies: unknown[];
  queues: unknown[];
  exchanges: unknown[];
  bindings: unknown[];
}

export class DefinitionsError extends Error {
  override name = 'DefinitionsError';
}

const FILE_NAME = 'definitions.json';
const TMP_MARK = `${FILE_NAME}.tmp-`;
const VERSION_FIELDS = ['rabbit_version', 'rabbitmq_version', 'product_name', 'product_version'] as const;
const OPAQUE_ARRAYS = [
  'topic_permissions', 'parameters', 'global_parameters', 'policies', 'queues', 'exchanges', 'bindings',
] as const;
const DEFAULT_ALGORITHM = 'rabbit_password_hashing_sha256';
const LEGACY_ALGORITHM = 'rabbit_password_hashing_md5';

export function emptyDefinitions(): Definitions {
  return {
    users: [], vhosts: [], permissions: [],
    topic_permissions: [], parameters: [], global_parameters: [], policies: [],
    queues: [], exchanges: [], bindings: [],
  };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  constructor(private readonly source: string) {}

  fail(field: string, problem: string): never {
    throw new DefinitionsError(`${this.source}: ${field} ${problem}`);
  }

  obj(v: unknown, field: string): Obj {
    if (!isObj(v)) this.fail(field, 'must be an object');
    return v;
  }

  str(o: Obj, key: string, field: string): string {
    const v = o[key];
    if (typeof v !== 'string') this.fail(`${field}.${key}`, v === undefined ? 'is missing' : 'must be a string');
    return v;
  }

  optStr(o: Obj, key: string, field: string): string | undefined {
    return o[key] === undefined ? undefined : this.str(o, key, field);
  }

  array(o: Obj, key: string): unknown[] {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(`"${key}"`, 'must be an array');
    return v;
  }

  stringList(v: unknown, field: string): string[] {
    if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (Array.isArray(v)) {
      return v.map((s, i) => {
        if (typeof s !== 'string') this.fail(`${field}[${i}]`, 'must be a string');
        return s.trim();
      }).filter((s) => s !== '');
    }
    return this.fail(field, 'must be an array of strings or a comma-separated string');
  }
}

function legacyHashing(version: string | undefined): boolean {
  return version !== undefined && /^3\.[0-5]\./.test(version);
}

/**
 * Validate a parsed definitions document and return it in canonical form.
 * `source` (a path, "request body"...) prefixes every error message.
 */
export function normalizeDefinitions(raw: unknown, source: string): Definitions {
  const c: Checker = new Checker(source);
  if (!isObj(raw)) c.fail('definitions', 'must be a JSON object');
  const out = emptyDefinitions();
  for (const key of VERSION_FIELDS) {
    const v = c.optStr(raw, key, 'definitions');
    if (v !== undefined) out[key] = v;
  }
  const version = out.rabbit_version ?? out.rabbitmq_version;

  out.users = c.array(raw, 'users').map((u, i): UserDefinition => {
    const field = `users[${i}]`;
    const o = c.obj(u, field);
    const name = c.str(o, 'name', field);
    const password = c.optStr(o, 'password', field);
    const hash = c.optStr(o, 'password_hash', field);
    let tags: string[];
    if (o['tags'] !== undefined) tags = c.stringList(o['tags'], `${field}.tags`);
    else tags = o['administrator'] === true || o['administrator'] === 'true' ? ['administrator'] : [];
    const algorithm = c.optStr(o, 'hashing_algorithm', field)
      ?? (legacyHashing(version) ? LEGACY_ALGORITHM : DEFAULT_ALGORITHM);
    const extra: Obj = { ...o };
    delete extra['administrator']; // legacy pre-tags flag, folded into tags above
    const def: UserDefinition = { ...extra, name, password_hash: hash ?? '', hashing_algorithm: algorithm, tags };
    if (o['limits'] !== undefined) def.limits = c.obj(o['limits'], `${field}.limits`);
    if (password !== undefined) def.password = password;
    return def;
  });

  out.vhosts = c.array(raw, 'vhosts').map((v, i): VhostDefinition => {
    const field = `vhosts[${i}]`;
    const o = c.obj(v, field);
    const def: VhostDefinition = { ...o, name: c.str(o, 'name', field) };
    const description = c.optStr(o, 'description', field);
    if (description !== undefined) def.description = description;
    if (o['tags'] !== undefined) def.tags = c.stringList(o['tags'], `${field}.tags`);
    const dqt = c.optStr(o, 'default_queue_type', field);
    if (dqt !== undefined) def.default_queue_type = dqt;
    if (o['metadata'] !== undefined) def.metadata = c.obj(o['metadata'], `${field}.metadata`);
    return def;
  });

  out.permissions = c.array(raw, 'permissions').map((p, i): PermissionDefinition => {
    const field = `permissions[${i}]`;
    const o = c.obj(p, field);
    return {
      ...o,
      user: c.str(o, 'user', field),
      vhost: c.str(o, 'vhost', field),
      configure: c.str(o, 'configure', field),
      write: c.str(o, 'write', field),
      read: c.str(o, 'read', field),
    };
  });

  for (const key of OPAQUE_ARRAYS) out[key] = c.array(raw, key);
  return out;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface DefinitionsStoreOptions {
  /** Test hook replacing fs.promises.rename, e.g. to simulate a crash before the rename. */
  rename?: (from: string, to: string) => Promise<void>;
}

export class DefinitionsStore {
  readonly path: string;
  private readonly dataDir: string;
  private readonly rename: (from: string, to: string) => Promise<void>;
  private tmpCounter = 0;
  private writes = 0;
  private pending: { json: string; waiters: Waiter[] } | null = null;
  private running = false;

  constructor(dataDir: string, options: DefinitionsStoreOptions = {}) {
    this.dataDir = dataDir;
    this.path = join(dataDir, FILE_NAME);
    this.rename = options.rename ?? fsRename;
  }

  /** Number of files written (renamed into place) by this store; for tests and metrics. */
  get writeCount(): number {
    return this.writes;
  }

  /**
   * Read the definitions; null when there is no file yet (first boot).
   * Removes temp files left by a crash mid-save. A file that cannot be read,
   * parsed or validated is an error: users are never silently discarded.
   */
  load(): Definitions | null {
    let entries: string[];
    try {
      entries = readdirSync(this.dataDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new DefinitionsError(`${this.dataDir}: cannot read data directory: ${(err as Error).message}`);
    }
    const ownPrefix = `${TMP_MARK}${process.pid}-`;
    for (const name of entries) {
      if (!name.startsWith(TMP_MARK)) continue;
      if (this.running && name.startsWith(ownPrefix)) continue; // a save of ours is in flight
      try {
        rmSync(join(this.dataDir, name), { force: true });
      } catch {
        // not ours to fix (e.g. a directory); it is ignored either way
      }
    }
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new DefinitionsError(`${this.path}: cannot read definitions: ${(err as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (err) {
      throw new DefinitionsError(`${this.path}: cannot parse definitions: ${(err as Error).message}`);
    }
    return normalizeDefinitions(raw, this.path);
  }

  /**
   * Write `defs` atomically and durably. The state is captured when save()
   * is called. Saves are serialized; saves requested while one is in flight
   * are coalesced so only the newest is written next, and each caller's
   * promise resolves once a write that includes its state is on disk (or
   * rejects with that write's error).
   */
  save(defs: Definitions): Promise<void> {
    let json: string;
    try {
      json = `${JSON.stringify(normalizeDefinitions(defs, 'definitions to save'), null, 2)}\n`;
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      if (this.pending) {
        this.pending.json = json;
        this.pending.waiters.push({ resolve, reject });
      } else {
        this.pending = { json, waiters: [{ resolve, reject }] };
      }
      if (!this.running) {
        this.running = true;
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    // Let every save requested in the same tick join the first write.
    await Promise.resolve();
    while (this.pending) {
      const batch = this.pending;
      this.pending = null;
      try {
        await this.writeFile(batch.json);
        for (const w of batch.waiters) w.resolve();
      } catch (err) {
        for (const w of batch.waiters) w.reject(err);
      }
    }
    this.running = false;
  }

  private async writeFile(json: string): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}-${++this.tmpCounter}`;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(json, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    this.writes++;
    await fsyncDir(this.dataDir);
  }
}
