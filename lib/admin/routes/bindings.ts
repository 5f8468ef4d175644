/**
 * Bindings: GET /api/bindings[/{vhost}], the bindings of an exchange
 * (/api/exchanges/{vhost}/{name}/bindings/source and /destination) and of
 * a queue (/api/queues/{vhost}/{name}/bindings), and between two entities:
 * GET / POST /api/bindings/{vhost}/e/{source}/q|e/{destination}, GET /
 * DELETE .../{props}. The default exchange's implicit binding to every
 * queue is listed as RabbitMQ lists it (source "", the queue's name as
 * routing key) and cannot be removed.
 *
 * A binding is named in paths by its properties_key, RabbitMQ's
 * (rabbit_mgmt_format:pack_binding_props): "~" for an empty routing key
 * without arguments, otherwise the routing key quoted as mochiweb's
 * quote_plus quotes it (with "~" as %7E), then, with arguments, "~" and
 * base64url of erlang:phash2 of the arguments as RabbitMQ holds them (a
 * key-sorted list of {Key, Type, Value}), so keys match a RabbitMQ node's.
 */
import type { FieldTable, FieldValue, TypeLetter } from '../../amqp/field-table.js';
import { Typed, typeLetterOf } from '../../amqp/field-table.js';
import { FIELD_TYPE_NAMES } from '../../amqp/erlang-term.js';
import type { Binding } from '../../broker/binding.js';
import { bind, unbind } from '../../broker/vhost-operations.js';
import type { VirtualHost } from '../../broker/vhost.js';
import { ApiResponse, noContent, notFound } from '../http-api.js';
import type { ApiRequest, Route } from '../http-api.js';
import { HTTP_OWNER, accessOf, argumentsOf, bodyObject, byBytes, change, jsonTable, listReply, pickColumns, routingKeyOf, vhostNotFound, vhostToChange, vhostsToList } from './resource-json.js';

type Item = Record<string, unknown>;
type Kind = 'queue' | 'exchange';

const DEFAULT_SORT = ['vhost', 'source', 'destination', 'routing_key', 'properties_key'];

/** The exchange a path names: amq.default is the default exchange "". */
export const exchangeName = (name: string): string => (name === 'amq.default' ? '' : name);

function bindingJson(vhost: string, source: string, destination: string, kind: Kind, routingKey: string, args: FieldTable): Item {
  return {
    source,
    vhost,
    destination,
    destination_type: kind,
    routing_key: routingKey,
    arguments: jsonTable(args),
    properties_key: propertiesKey(routingKey, args),
  };
}

const fromBinding = (vh: VirtualHost, b: Binding): Item =>
  bindingJson(vh.name, b.source.name, b.destination.name, b.destination.kind, b.routingKey, b.arguments);
const implicit = (vh: VirtualHost, queue: string): Item => bindingJson(vh.name, '', queue, 'queue', queue, {});

/** Every binding of a vhost, the default exchange's implicit ones first. */
function vhostBindings(vh: VirtualHost): Item[] {
  const out: Item[] = [];
  for (const q of vh.queues.keys()) out.push(implicit(vh, q));
  for (const x of vh.exchanges.values()) for (const b of x.bindings.values()) out.push(fromBinding(vh, b));
  return out;
}

/** A vhost whose bindings are read: a missing one has none (as in RabbitMQ), a forbidden one is 403. */
function readableVhost(req: ApiRequest): VirtualHost | null {
  if (!req.ctx.broker.vhosts.has(req.params.vhost!)) return null;
  return vhostsToList(req)[0]!;
}

/** The bindings from source to destination (the implicit one included), with their arguments as held. */
function between(vh: VirtualHost, source: string, destination: string, kind: Kind): { item: Item; args: FieldTable }[] {
  if (source === '') return kind === 'queue' && vh.queues.has(destination) ? [{ item: implicit(vh, destination), args: {} }] : [];
  const out: { item: Item; args: FieldTable }[] = [];
  for (const b of vh.exchanges.get(source)?.bindings.values() ?? []) {
    if (b.destination.kind === kind && b.destination.name === destination) out.push({ item: fromBinding(vh, b), args: b.arguments });
  }
  return out;
}

function listAll(req: ApiRequest): unknown {
  return listReply(req, vhostsToList(req).flatMap(vhostBindings), DEFAULT_SORT, false);
}

function exchangeBindings(direction: 'source' | 'destination') {
  return (req: ApiRequest): unknown => {
    const vh = readableVhost(req);
    const name = exchangeName(req.params.name!);
    const x = vh?.exchanges.get(name);
    if (!vh || !x) return [];
    let items: Item[];
    if (direction === 'destination') items = [...x.incoming].map((b) => fromBinding(vh, b));
    else if (name === '') items = [...vh.queues.keys()].map((q) => implicit(vh, q));
    else items = [...x.bindings.values()].map((b) => fromBinding(vh, b));
    return listReply(req, items, DEFAULT_SORT, false);
  };
}

function queueBindings(req: ApiRequest): unknown {
  const vh = readableVhost(req);
  if (!vh) return [];
  const name = req.params.name!;
  // RabbitMQ lists the implicit binding whether the queue exists or not
  const items = [implicit(vh, name), ...[...(vh.queues.get(name)?.bindings ?? [])].map((b) => fromBinding(vh, b))];
  return listReply(req, items, DEFAULT_SORT, false);
}

function betweenRoute(kind: Kind) {
  return (req: ApiRequest): unknown => {
    const vh = readableVhost(req);
    if (!vh) return [];
    return listReply(req, between(vh, exchangeName(req.params.source!), req.params.dest!, kind).map((b) => b.item), DEFAULT_SORT, false);
  };
}

function oneRoute(kind: Kind) {
  return (req: ApiRequest): unknown => {
    const vh = readableVhost(req);
    const found = vh && between(vh, exchangeName(req.params.source!), req.params.dest!, kind).find((b) => b.item.properties_key === req.params.props);
    if (!found) throw notFound();
    return pickColumns(req, found.item);
  };
}

function createRoute(kind: Kind) {
  return async (req: ApiRequest): Promise<ApiResponse> => {
    const vh = vhostToChange(req, vhostNotFound());
    const body = bodyObject(req.body);
    const routingKey = routingKeyOf(body);
    const args = argumentsOf(body);
    const destination = req.params.dest!;
    await change(req, vh, 'direct', () =>
      bind(vh, { source: exchangeName(req.params.source!), destination, destinationKind: kind, routingKey, arguments: args }, HTTP_OWNER, accessOf(req, vh)),
    );
    const location = `${quotePlus(destination, true)}/${quotePlus(propertiesKey(routingKey, args), true)}`;
    return new ApiResponse(201, undefined, { location });
  };
}

function deleteRoute(kind: Kind) {
  return async (req: ApiRequest): Promise<ApiResponse> => {
    const vh = vhostToChange(req, notFound());
    const source = exchangeName(req.params.source!);
    const destination = req.params.dest!;
    const found = between(vh, source, destination, kind).find((b) => b.item.properties_key === req.params.props);
    if (!found) throw notFound();
    // the default exchange's implicit binding is one unbind refuses (403)
    const routingKey = found.item.routing_key as string;
    await change(req, vh, 'direct', () =>
      unbind(vh, { source, destination, destinationKind: kind, routingKey, arguments: found.args }, HTTP_OWNER, accessOf(req, vh)),
    );
    return noContent();
  };
}

// ---- properties_key

/** mochiweb's quote_plus: letters, digits and ".-_" stay, space is "+", other UTF-8 bytes %XX; "~" stays where keepTilde (a Location), else %7E (a properties key). */
export function quotePlus(s: string, keepTilde = false): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9.\-_]/.test(c) || (keepTilde && c === '~')) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function propertiesKey(routingKey: string, args: FieldTable): string {
  const empty = Object.keys(args).length === 0;
  if (routingKey === '' && empty) return '~';
  const quoted = quotePlus(routingKey);
  if (empty) return quoted;
  const hash = Buffer.alloc(4);
  hash.writeUInt32BE(phash2(tableTerm(args, true)));
  return `${quoted}~${hash.toString('base64url')}`;
}

/** Erlang terms, as far as RabbitMQ's field tables need them. */
type Term =
  | { t: 'bin'; v: Buffer }
  | { t: 'atom'; v: string }
  | { t: 'int'; v: bigint }
  | { t: 'float'; v: number }
  | { t: 'tuple'; v: Term[] }
  | { t: 'list'; v: Term[] };

const atom = (v: string): Term => ({ t: 'atom', v });
const int = (v: number | bigint): Term => ({ t: 'int', v: BigInt(v) });

/** A table as rabbit_binary_parser decodes it: [{Key, Type, Value}], sorted by key at the top (rabbit_binding sorts binding arguments). */
function tableTerm(table: FieldTable, sort: boolean): Term {
  const keys = Object.keys(table);
  if (sort) keys.sort(byBytes);
  return { t: 'list', v: keys.map((k) => ({ t: 'tuple', v: [{ t: 'bin', v: Buffer.from(k) }, ...typedTerm(table[k]!)] })) };
}

/** [Type, Value] of a field value. */
function typedTerm(v: FieldValue): [Term, Term] {
  const letter: TypeLetter = typeLetterOf(v);
  const type = atom(FIELD_TYPE_NAMES[letter]);
  const raw = v instanceof Typed ? v.value : v;
  switch (letter) {
    case 't': return [type, atom(raw ? 'true' : 'false')];
    case 'V': return [type, atom('undefined')];
    case 'S': case 'x': return [type, { t: 'bin', v: Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)) }];
    case 'f': case 'd': return [type, { t: 'float', v: Number(raw) }];
    case 'T': return [type, int(raw instanceof Date ? Math.floor(raw.getTime() / 1000) : (raw as number | bigint))];
    case 'D': {
      const d = raw as { scale: number; value: number };
      return [type, { t: 'tuple', v: [int(d.scale), int(d.value)] }];
    }
    case 'A': return [type, { t: 'list', v: (v as FieldValue[]).map((e) => ({ t: 'tuple', v: typedTerm(e) })) }];
    case 'F': return [type, tableTerm(v as FieldTable, false)];
    default: return [type, int(raw as number | bigint)];
  }
}

// erlang:phash2/2 with range 2^32: make_hash2 of erts/emulator/beam/utils.c (a Bob Jenkins hash)
const HCONST = 0x9e3779b9, HCONST_2 = 0x3c6ef372, HCONST_3 = 0xdaa66d2b;
const HCONST_9 = 0x8ff34781, HCONST_10 = 0x2e2ac13a, HCONST_11 = 0xcc623af3, HCONST_12 = 0x6a99b4ac, HCONST_13 = 0x08d12e65;
const NIL_DEF = 2;

function mix(a: number, b: number, c: number): [number, number, number] {
  a = (a - b - c) >>> 0; a = (a ^ (c >>> 13)) >>> 0;
  b = (b - c - a) >>> 0; b = (b ^ (a << 8)) >>> 0;
  c = (c - a - b) >>> 0; c = (c ^ (b >>> 13)) >>> 0;
  a = (a - b - c) >>> 0; a = (a ^ (c >>> 12)) >>> 0;
  b = (b - c - a) >>> 0; b = (b ^ (a << 16)) >>> 0;
  c = (c - a - b) >>> 0; c = (c ^ (b >>> 5)) >>> 0;
  a = (a - b - c) >>> 0; a = (a ^ (c >>> 3)) >>> 0;
  b = (b - c - a) >>> 0; b = (b ^ (a << 10)) >>> 0;
  c = (c - a - b) >>> 0; c = (c ^ (b >>> 15)) >>> 0;
  return [a, b, c];
}

function blockHash(k: Buffer, initval: number): number {
  let a = HCONST, b = HCONST, c = initval;
  let i = 0;
  let len = k.length;
  const word = (at: number): number => k.readUInt32LE(at);
  while (len >= 12) {
    a = (a + word(i)) >>> 0; b = (b + word(i + 4)) >>> 0; c = (c + word(i + 8)) >>> 0;
    [a, b, c] = mix(a, b, c);
    i += 12;
    len -= 12;
  }
  c = (c + k.length) >>> 0;
  // the last 0..11 bytes: 0-3 into a, 4-7 into b, 8-10 into c above its low byte (which holds the length)
  for (let n = 0; n < len; n++) {
    const v = (k[i + n]! << ((n % 4) * 8)) >>> 0;
    if (n < 4) a = (a + v) >>> 0;
    else if (n < 8) b = (b + v) >>> 0;
    else c = (c + ((k[i + n]! << ((n - 7) * 8)) >>> 0)) >>> 0;
  }
  return mix(a, b, c)[2];
}

/** An atom's hash in the atom table (hashpjw over its name). */
function atomHash(name: string): number {
  let h = 0;
  for (const v of Buffer.from(name, 'latin1')) {
    h = ((h << 4) + v) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h = (h ^ (g >>> 24) ^ g) >>> 0;
  }
  return h;
}

export function phash2(term: Term): number {
  let hash = 0;
  const hash2 = (x: number, y: number, k: number): void => {
    hash = mix((k + x) >>> 0, (k + y) >>> 0, hash)[2];
  };
  const visit = (t: Term): void => {
    switch (t.t) {
      case 'list':
        for (const e of t.v) visit(e);
        if (hash === 0) hash = 3468870702;
        else hash2(NIL_DEF, 0, HCONST_2);
        return;
      case 'tuple':
        hash2(t.v.length, 0, HCONST_9);
        for (const e of t.v) visit(e);
        return;
      case 'bin': {
        const con = (HCONST_13 + hash) >>> 0;
        hash = t.v.length === 0 ? con : blockHash(t.v, con);
        return;
      }
      case 'atom':
        if (hash === 0) hash = atomHash(t.v);
        else hash2(atomHash(t.v), 0, HCONST_3);
        return;
      case 'float': {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(t.v === 0 ? 0 : t.v);
        hash2(b.readUInt32BE(0), b.readUInt32BE(4), HCONST_12);
        return;
      }
      case 'int': {
        const x = t.v;
        if (x >= -(1n << 27n) && x < 1n << 27n) {
          // small: negative ones are mixed twice
          if (x < 0n) hash2(Number(-x), 0, HCONST);
          hash2(Number(BigInt.asUintN(32, x)), 0, HCONST);
        } else {
          const mag = x < 0n ? -x : x;
          hash2(Number(mag & 0xffffffffn), Number((mag >> 32n) & 0xffffffffn), x < 0n ? HCONST_10 : HCONST_11);
        }
        return;
      }
    }
  };
  visit(term);
  return hash;
}

export const routes: Route[] = [
  { method: 'GET', path: '/api/bindings', tag: 'management', handler: listAll },
  { method: 'GET', path: '/api/bindings/:vhost', tag: 'management', handler: listAll },
  { method: 'GET', path: '/api/exchanges/:vhost/:name/bindings/source', tag: 'management', handler: exchangeBindings('source') },
  { method: 'GET', path: '/api/exchanges/:vhost/:name/bindings/destination', tag: 'management', handler: exchangeBindings('destination') },
  { method: 'GET', path: '/api/queues/:vhost/:name/bindings', tag: 'management', handler: queueBindings },
  { method: 'GET', path: '/api/bindings/:vhost/e/:source/q/:dest', tag: 'management', handler: betweenRoute('queue') },
  { method: 'POST', path: '/api/bindings/:vhost/e/:source/q/:dest', tag: 'management', handler: createRoute('queue') },
  { method: 'GET', path: '/api/bindings/:vhost/e/:source/e/:dest', tag: 'management', handler: betweenRoute('exchange') },
  { method: 'POST', path: '/api/bindings/:vhost/e/:source/e/:dest', tag: 'management', handler: createRoute('exchange') },
  { method: 'GET', path: '/api/bindings/:vhost/e/:source/q/:dest/:props', tag: 'management', handler: oneRoute('queue') },
  { method: 'DELETE', path: '/api/bindings/:vhost/e/:source/q/:dest/:props', tag: 'management', handler: deleteRoute('queue') },
  { method: 'GET', path: '/api/bindings/:vhost/e/:source/e/:dest/:props', tag: 'management', handler: oneRoute('exchange') },
  { method: 'DELETE', path: '/api/bindings/:vhost/e/:source/e/:dest/:props', tag: 'management', handler: deleteRoute('exchange') },
];
