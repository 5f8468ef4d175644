/**
 * The broker's state that outlives connections: virtual hosts, users and
 * permissions, and their persistence in the data dir's definitions file.
 *
 * On the first start (no definitions file) it creates the default vhost and
 * user from the configuration, as RabbitMQ does, unless load_definitions
 * names a file (then, as RabbitMQ, the file provides them); on every start
 * it then imports the load_definitions file and ensures the vhosts and
 * users the YAML configuration lists. The management HTTP API creates and
 * deletes vhosts (createVhost, deleteVhost) and imports definitions
 * (importDefinitions: checked as a whole, then applied; see
 * definitions-import.ts). Protocol code lives in lib/server/ and calls in
 * here; nothing here knows about sockets (a deleted vhost's connections
 * are closed by the caller).
 */
import { isIP } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkPassword, DEFAULT_HASHING_ALGORITHM } from '../auth/password-hash.js';
import type { HashingAlgorithm } from '../auth/password-hash.js';
import { UserRegistry } from '../auth/users.js';
import type { AuthResult } from '../auth/users.js';
import type { BrokerConfig, ConfigUser } from '../config/options.js';
import type { Logger } from '../log.js';
import { DefinitionsError, DefinitionsStore, emptyDefinitions, normalizeDefinitions } from '../store/definitions-store.js';
import { MessageLog, RecordType } from '../store/message-log.js';
import { recoverMessageLog } from '../store/message-recovery.js';
import type { RecoveredLog } from '../store/message-recovery.js';
import { Message, publishRecord } from './message.js';
import type { QueueJournal } from './queue.js';
import type { QueuePaging } from './queue-paging.js';
import type { Definitions } from '../store/definitions-store.js';
import { serverProperties, WARREN_VERSION } from '../server/server-properties.js';
import type { FieldTable } from '../amqp/field-table.js';
import { applyDurableEntities, exportDurableEntities, importDurableEntities } from './durable-entities.js';
import { planImport } from './definitions-import.js';
import { MessageStats } from './message-stats.js';
import type { SkippedEntry } from './definitions-import.js';
import { VirtualHost } from './vhost.js';
import type { VhostMetadata } from './vhost.js';

export type VhostAccess = 'ok' | 'no-vhost' | 'refused';

const FULL_ACCESS = '.*';
const ignoreCommit = (): void => undefined;
/** recovered bodies above this size are copied out of the segment buffer (Message copies smaller ones) */
const LARGE_BODY = 16 * 1024;

export class Broker {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly users = new UserRegistry();
  readonly vhosts = new Map<string, VirtualHost>();
  readonly serverProperties: FieldTable;
  /** message counters (publish, deliver, ack...) and their rates, for the HTTP API and /metrics */
  readonly stats = new MessageStats();
  private readonly store: DefinitionsStore;
  /** persistent messages of durable queues */
  readonly messageLog: MessageLog;
  /** what the message log held at start, until it is put back into the queues */
  private recovered: RecoveredLog | null;
  /** durable queues record removals and deliveries of logged messages here */
  private readonly journal: QueueJournal = {
    removed: (q, id) => this.messageLog.appendQueueEvent(RecordType.Remove, id, q.vhost, q.name),
    delivered: (q, id) => this.messageLog.appendQueueEvent(RecordType.Delivered, id, q.vhost, q.name),
    deleted: (q) => this.messageLog.appendQueueEvent(RecordType.QueueDeleted, 0, q.vhost, q.name),
    forgotten: (_q, id) => this.messageLog.forget(id),
  };
  /** queues page out under <dataDir>/queues: a cache, emptied at every start */
  private readonly paging: QueuePaging;
  private pendingSave: Promise<void> | null = null;
  private loaded = false;

  private constructor(config: BrokerConfig, logger: Logger) {
    this.config = config;
    this.logger = logger;
    this.store = new DefinitionsStore(config.dataDir);
    const logDir = join(config.dataDir, 'messages');
    this.recovered = recoverMessageLog(logDir, logger);
    this.messageLog = new MessageLog(logDir, this.recovered, {
      logger,
      fsync: config.fsync,
      fsyncInterval: config.fsyncInterval,
      segmentBytes: config.messageLogSegmentSize,
    });
    this.serverProperties = serverProperties('warren');
    this.paging = queuePaging(join(config.dataDir, 'queues'), config.queueMemoryBudget, logger);
  }

  private addVhost(vh: VirtualHost): void {
    vh.journal = this.journal;
    vh.paging = this.paging;
    vh.logPublish = (m, queues) => {
      m.logId = this.messageLog.newMessageId();
      this.messageLog.appendPublish(publishRecord(m, vh.name, queues), ignoreCommit);
    };
    // changes made while loading are what was loaded: nothing to save
    vh.onDurableChange = () => {
      if (this.loaded) void this.definitionsSaved();
    };
    this.vhosts.set(vh.name, vh);
  }

  /**
   * Save the definitions soon (changes of one event-loop turn share a write);
   * resolves once a save that includes every change made so far is on disk.
   * A failed save is logged and resolves too: the entity exists in memory.
   */
  definitionsSaved(): Promise<void> {
    this.pendingSave ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        this.pendingSave = null;
        this.persist().then(resolve, (err: unknown) => {
          this.logger.error({ err }, 'saving the definitions failed');
          resolve();
        });
      });
    });
    return this.pendingSave;
  }

  /** Load the definitions from the data dir (creating the defaults on first start). */
  static async open(config: BrokerConfig, logger: Logger): Promise<Broker> {
    const broker = new Broker(config, logger);
    await broker.loadDefinitions();
    return broker;
  }

  private async loadDefinitions(): Promise<void> {
    const stored = this.store.load();
    const loadFile = this.config.loadDefinitions;
    let changed = false;
    if (stored) {
      this.applyDefinitions(stored);
    } else if (loadFile !== '') {
      // as RabbitMQ: with definitions imported at boot, no default vhost and user are created
      this.logger.info({ file: loadFile }, 'first start: the vhosts and users come from load_definitions');
      changed = true;
    } else {
      const { defaultVhost, defaultUser, defaultPass, defaultUserTags } = this.config;
      this.logger.info({ vhost: defaultVhost, user: defaultUser }, 'first start: creating the default vhost and user');
      this.addVhost(new VirtualHost(defaultVhost));
      this.users.add(defaultUser, defaultPass, defaultUserTags);
      this.users.setPermissions({ user: defaultUser, vhost: defaultVhost, configure: FULL_ACCESS, write: FULL_ACCESS, read: FULL_ACCESS });
      changed = true;
    }
    if (loadFile !== '') {
      const skipped = this.importDefinitions(readDefinitionsFile(loadFile), { source: loadFile });
      this.logger.info({ file: loadFile, skipped: skipped.length }, 'imported load_definitions');
      changed = true;
    }
    for (const name of this.config.vhosts) {
      if (!this.vhosts.has(name)) {
        this.addVhost(new VirtualHost(name));
        changed = true;
      }
    }
    for (const u of this.config.users) changed = this.ensureConfigUser(u) || changed;
    if (changed) await this.persist();
    this.loaded = true;
    this.restoreMessages();
  }

  /** Put the messages recovered from the log back into their durable queues, in order. */
  private restoreMessages(): void {
    const recovered = this.recovered;
    this.recovered = null;
    if (!recovered) return;
    let placed = 0;
    let messages = 0;
    for (const m of recovered.messages()) {
      messages++;
      const vh = this.vhosts.get(m.vhost);
      if (!vh) continue;
      // a large body is copied: a slice would keep the whole segment's buffer alive
      const body = m.body.length > LARGE_BODY ? Buffer.from(m.body) : m.body;
      const message = new Message(m.exchange, m.routingKey, m.properties, [body], body.length);
      message.logId = m.id;
      let queues = 0;
      for (const [name, delivered] of m.queues) {
        const q = vh.journaledQueue(name);
        if (!q || !q.journal) continue;
        q.recover(message, delivered, m.loggedAt);
        queues++;
      }
      this.messageLog.refs.add(m.id, queues);
      placed += queues;
    }
    if (placed > 0) this.logger.info({ messages, placed }, 'recovered persistent messages from the message log');
    // segments holding only what is gone can go now
    void this.messageLog.collectGarbage();
  }

  /** Create or update a user the YAML file lists; true when anything changed. */
  private ensureConfigUser(u: ConfigUser): boolean {
    let changed = false;
    const existing = this.users.get(u.name);
    if (!existing) {
      this.users.add(u.name, u.password ?? null, u.tags ?? []);
      changed = true;
    } else if (u.tags && u.tags.join(',') !== existing.tags.join(',')) {
      this.users.setTags(u.name, u.tags);
      changed = true;
    }
    const user = this.users.get(u.name)!;
    if (u.passwordHash !== undefined && u.passwordHash !== user.passwordHash) {
      this.users.put({ ...user, passwordHash: u.passwordHash, hashingAlgorithm: DEFAULT_HASHING_ALGORITHM });
      changed = true;
    } else if (u.password !== undefined && !checkPassword(u.password, user.passwordHash, user.hashingAlgorithm)) {
      this.users.changePassword(u.name, u.password);
      changed = true;
    }
    for (const p of u.permissions ?? []) {
      if (!this.vhosts.has(p.vhost)) {
        this.addVhost(new VirtualHost(p.vhost));
        changed = true;
      }
      const cur = this.users.permission(u.name, p.vhost);
      if (!cur || cur.configure !== p.configure || cur.write !== p.write || cur.read !== p.read) {
        this.users.setPermissions({ user: u.name, ...p });
        changed = true;
      }
    }
    return changed;
  }

  private applyDefinitions(defs: Definitions): void {
    for (const v of defs.vhosts) {
      this.addVhost(new VirtualHost(v.name, { description: v.description, tags: v.tags, defaultQueueType: v.default_queue_type }));
    }
    for (const u of defs.users) {
      const tags = Array.isArray(u.tags) ? u.tags : u.tags.split(',').filter(Boolean);
      this.users.put({ name: u.name, passwordHash: u.password_hash, hashingAlgorithm: u.hashing_algorithm as HashingAlgorithm, tags });
    }
    for (const p of defs.permissions) {
      if (this.users.get(p.user) && this.vhosts.has(p.vhost)) this.users.setPermissions(p);
    }
    importDurableEntities(defs, this.vhosts, this.logger);
  }

  /**
   * Import definitions (RabbitMQ's JSON, parsed): checked as a whole first
   * (DefinitionsError / ImportError, nothing changed), then applied. Entries
   * warren does not support are skipped, logged and returned. `vhost`: a
   * vhost-scoped import (POST /api/definitions/{vhost}). The caller saves
   * (definitionsSaved) once it wants the result on disk.
   */
  importDefinitions(raw: unknown, o: { vhost?: string; source?: string } = {}): SkippedEntry[] {
    const defs = normalizeDefinitions(raw, o.source ?? 'definitions');
    const plan = planImport(defs, this.vhosts, this.users, o.vhost);
    for (const vh of plan.newVhosts) this.addVhost(vh);
    for (const { vhost, metadata } of plan.metadata) vhost.metadata = metadata;
    for (const u of plan.users) this.users.put(u);
    for (const p of plan.permissions) this.users.setPermissions(p);
    applyDurableEntities(plan.entities, this.vhosts);
    for (const s of plan.skipped) this.logger.warn({ entry: s, source: o.source }, 'definitions import: %s skipped: %s', s.kind, s.reason);
    return plan.skipped;
  }

  /** Create a vhost (false when it exists: its metadata is replaced then). Saving is the caller's. */
  createVhost(name: string, metadata: VhostMetadata = {}): boolean {
    const existing = this.vhosts.get(name);
    if (existing) {
      existing.metadata = metadata;
      return false;
    }
    this.addVhost(new VirtualHost(name, metadata));
    return true;
  }

  /**
   * Delete a vhost with its queues (and their messages), exchanges and
   * bindings, and every permission on it; false when there is none. Its
   * connections are the caller's to close first: this closes nothing.
   */
  deleteVhost(name: string): boolean {
    const vh = this.vhosts.get(name);
    if (!vh) return false;
    this.vhosts.delete(name);
    for (const q of [...vh.queues.values()]) vh.deleteQueue(q);
    for (const x of [...vh.exchanges.values()]) if (x.name !== '') vh.deleteExchange(x);
    vh.onDurableChange = null;
    this.users.deleteVhost(name);
    this.logger.info({ vhost: name }, 'vhost deleted');
    return true;
  }

  /** The broker's definitions in RabbitMQ's export format. */
  definitions(): Definitions {
    const defs = emptyDefinitions();
    defs.rabbit_version = '3.13.0';
    defs.rabbitmq_version = '3.13.0';
    defs.product_name = 'warren';
    defs.product_version = WARREN_VERSION;
    defs.users = this.users.list().map((u) => ({ name: u.name, password_hash: u.passwordHash, hashing_algorithm: u.hashingAlgorithm, tags: u.tags, limits: {} }));
    defs.vhosts = [...this.vhosts.values()].map((v) => ({
      name: v.name,
      ...(v.metadata.description !== undefined ? { description: v.metadata.description } : {}),
      ...(v.metadata.tags !== undefined ? { tags: v.metadata.tags } : {}),
      ...(v.metadata.defaultQueueType !== undefined ? { default_queue_type: v.metadata.defaultQueueType } : {}),
    }));
    defs.permissions = this.users.allPermissions().map((p) => ({ ...p }));
    const entities = exportDurableEntities(this.vhosts.values());
    defs.exchanges = entities.exchanges;
    defs.queues = entities.queues;
    defs.bindings = entities.bindings;
    return defs;
  }

  /** Stop writing: what is pending still reaches the disk. */
  close(): void {
    this.messageLog.close();
  }

  /** Write the definitions to disk; resolves once they are durable. */
  persist(): Promise<void> {
    return this.store.save(this.definitions());
  }

  /** Check a login; users in loopback_users may only connect from a loopback address. */
  authenticate(username: string, password: string, peerAddress: string): AuthResult {
    const result = this.users.authenticate(username, password);
    if (result.ok && this.config.loopbackUsers.includes(username) && !isLoopbackAddress(peerAddress)) {
      return { ok: false, reason: `user '${username}' can only connect via localhost` };
    }
    return result;
  }

  /** Whether a user may open a vhost: it must exist and the user must have a permission entry on it. */
  vhostAccess(username: string, vhost: string): VhostAccess {
    if (!this.vhosts.has(vhost)) return 'no-vhost';
    return this.users.permission(username, vhost) ? 'ok' : 'refused';
  }
}

/** A load_definitions file, parsed; DefinitionsError when it cannot be read or parsed. */
function readDefinitionsFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DefinitionsError(`${path}: cannot read load_definitions: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new DefinitionsError(`${path}: cannot parse load_definitions: ${(err as Error).message}`);
  }
}

/** Paging for every queue of the broker: one directory per queue under root, wiped now. */
function queuePaging(root: string, budgetBytes: number, logger: Logger): QueuePaging {
  rmSync(root, { recursive: true, force: true });
  let n = 0;
  return {
    budgetBytes,
    newDir: () => join(root, String(++n)),
    failed: (q, err) => logger.error({ err, queue: q.name, vhost: q.vhost }, 'paging out failed: the message stays in memory'),
  };
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses. */
export function isLoopbackAddress(address: string): boolean {
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
