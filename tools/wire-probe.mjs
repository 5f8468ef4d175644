#!/usr/bin/env node
// wire-probe.mjs — measure how an AMQP 0-9-1 broker reacts to malformed and
// edge-case input, over raw TCP with hand-encoded frames (no client library).
//
//   node tools/wire-probe.mjs --host 127.0.0.1 --port 5672 [--only a,b] [--json]
//                             [--list]
//
// Every scenario uses its own fresh connection(s). For each "step" of a
// scenario we record what the server sent back after that step's input:
//   - frames: method frames by class.method name (connection.close /
//     channel.close with reply-code, reply-text, class-id, method-id),
//     content headers, bodies, heartbeats, each with its arrival time,
//   - raw bytes that are not frames (e.g. the protocol header a server sends
//     when it refuses our version),
//   - whether and when the server closed the socket.
// Times are ms since the step's input was written, rounded to 100 ms.
// Unless a scenario says otherwise the probe behaves like a polite client: it
// answers a server connection.close with connection.close-ok (noted in the
// step as clientSentCloseOk) and stops listening after 1.5 s of silence.
//
// The scenario list is the `SCENARIOS` array at the bottom; the helpers above
// it (codec, Conn, handshake, step) are meant to be reused. Node >= 20, ESM,
// no dependencies. Used to produce conformance/fixtures/rabbitmq-wire-replies.json
// (see docs/rabbitmq-wire-behaviour.md) and to check warren against it.

import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

// ---------------------------------------------------------------------------
// AMQP 0-9-1 method table (from amqp0-9-1.stripped.extended.xml, domains
// resolved to wire types). "id name type:arg ...".

const METHOD_SPEC = `
10.10 connection.start octet:versionMajor octet:versionMinor table:serverProperties longstr:mechanisms longstr:locales
10.11 connection.start-ok table:clientProperties shortstr:mechanism longstr:response shortstr:locale
10.20 connection.secure longstr:challenge
10.21 connection.secure-ok longstr:response
10.30 connection.tune short:channelMax long:frameMax short:heartbeat
10.31 connection.tune-ok short:channelMax long:frameMax short:heartbeat
10.40 connection.open shortstr:virtualHost shortstr:reserved1 bit:reserved2
10.41 connection.open-ok shortstr:reserved1
10.50 connection.close short:replyCode shortstr:replyText short:classId short:methodId
10.51 connection.close-ok
10.60 connection.blocked shortstr:reason
10.61 connection.unblocked
10.70 connection.update-secret longstr:newSecret shortstr:reason
10.71 connection.update-secret-ok
20.10 channel.open shortstr:reserved1
20.11 channel.open-ok longstr:reserved1
20.20 channel.flow bit:active
20.21 channel.flow-ok bit:active
20.40 channel.close short:replyCode shortstr:replyText short:classId short:methodId
20.41 channel.close-ok
40.10 exchange.declare short:reserved1 shortstr:exchange shortstr:type bit:passive bit:durable bit:autoDelete bit:internal bit:noWait table:arguments
40.11 exchange.declare-ok
40.20 exchange.delete short:reserved1 shortstr:exchange bit:ifUnused bit:noWait
40.21 exchange.delete-ok
40.30 exchange.bind short:reserved1 shortstr:destination shortstr:source shortstr:routingKey bit:noWait table:arguments
40.31 exchange.bind-ok
40.40 exchange.unbind short:reserved1 shortstr:destination shortstr:source shortstr:routingKey bit:noWait table:arguments
40.51 exchange.unbind-ok
50.10 queue.declare short:reserved1 shortstr:queue bit:passive bit:durable bit:exclusive bit:autoDelete bit:noWait table:arguments
50.11 queue.declare-ok shortstr:queue long:messageCount long:consumerCount
50.20 queue.bind short:reserved1 shortstr:queue shortstr:exchange shortstr:routingKey bit:noWait table:arguments
50.21 queue.bind-ok
50.30 queue.purge short:reserved1 shortstr:queue bit:noWait
50.31 queue.purge-ok long:messageCount
50.40 queue.delete short:reserved1 shortstr:queue bit:ifUnused bit:ifEmpty bit:noWait
50.41 queue.delete-ok long:messageCount
50.50 queue.unbind short:reserved1 shortstr:queue shortstr:exchange shortstr:routingKey table:arguments
50.51 queue.unbind-ok
60.10 basic.qos long:prefetchSize short:prefetchCount bit:global
60.11 basic.qos-ok
60.20 basic.consume short:reserved1 shortstr:queue shortstr:consumerTag bit:noLocal bit:noAck bit:exclusive bit:noWait table:arguments
60.21 basic.consume-ok shortstr:consumerTag
60.30 basic.cancel shortstr:consumerTag bit:noWait
60.31 basic.cancel-ok shortstr:consumerTag
60.40 basic.publish short:reserved1 shortstr:exchange shortstr:routingKey bit:mandatory bit:immediate
60.50 basic.return short:replyCode shortstr:replyText shortstr:exchange shortstr:routingKey
60.60 basic.deliver shortstr:consumerTag longlong:deliveryTag bit:redelivered shortstr:exchange shortstr:routingKey
60.70 basic.get short:reserved1 shortstr:queue bit:noAck
60.71 basic.get-ok longlong:deliveryTag bit:redelivered shortstr:exchange shortstr:routingKey long:messageCount
60.72 basic.get-empty shortstr:reserved1
60.80 basic.ack longlong:deliveryTag bit:multiple
60.90 basic.reject longlong:deliveryTag bit:requeue
60.100 basic.recover-async bit:requeue
60.110 basic.recover bit:requeue
60.111 basic.recover-ok
60.120 basic.nack longlong:deliveryTag bit:multiple bit:requeue
85.10 confirm.select bit:nowait
85.11 confirm.select-ok
90.10 tx.select
90.11 tx.select-ok
90.20 tx.commit
90.21 tx.commit-ok
90.30 tx.rollback
90.31 tx.rollback-ok
`;

const BASIC_PROPERTIES = [
  ['contentType', 'shortstr'], ['contentEncoding', 'shortstr'], ['headers', 'table'],
  ['deliveryMode', 'octet'], ['priority', 'octet'], ['correlationId', 'shortstr'],
  ['replyTo', 'shortstr'], ['expiration', 'shortstr'], ['messageId', 'shortstr'],
  ['timestamp', 'timestamp'], ['type', 'shortstr'], ['userId', 'shortstr'],
  ['appId', 'shortstr'], ['reserved', 'shortstr'],
];

const METHODS_BY_NAME = new Map();
const METHODS_BY_ID = new Map();
for (const line of METHOD_SPEC.trim().split('\n')) {
  const [ids, name, ...fields] = line.trim().split(/\s+/);
  const [classId, methodId] = ids.split('.').map(Number);
  const args = fields.map((f) => { const [type, arg] = f.split(':'); return { type, name: arg }; });
  const m = { classId, methodId, name, args };
  METHODS_BY_NAME.set(name, m);
  METHODS_BY_ID.set(`${classId}.${methodId}`, m);
}

export const FRAME = { METHOD: 1, HEADER: 2, BODY: 3, HEARTBEAT: 8 };
export const FRAME_END = 0xce;
export const PROTOCOL_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');

// ---------------------------------------------------------------------------
// Encoding

class Writer {
  constructor() { this.parts = []; this.bits = null; }
  flushBits() { if (this.bits) { this.parts.push(Buffer.from([this.bits.value])); this.bits = null; } }
  push(buf) { this.flushBits(); this.parts.push(buf); return this; }
  octet(v) { return this.push(Buffer.from([v & 0xff])); }
  short(v) { const b = Buffer.alloc(2); b.writeUInt16BE(v); return this.push(b); }
  long(v) { const b = Buffer.alloc(4); b.writeUInt32BE(v); return this.push(b); }
  longlong(v) { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(v)); return this.push(b); }
  timestamp(v) { return this.longlong(v); }
  shortstr(s) { const b = Buffer.from(s ?? '', 'utf8'); return this.octet(b.length).push(b); }
  longstr(s) { const b = Buffer.isBuffer(s) ? s : Buffer.from(s ?? '', 'utf8'); return this.long(b.length).push(b); }
  table(t) { const b = encodeTableBody(t ?? {}); return this.long(b.length).push(b); }
  bit(v) {
    if (!this.bits || this.bits.n === 8) { this.flushBits(); this.bits = { value: 0, n: 0 }; }
    if (v) this.bits.value |= 1 << this.bits.n;
    this.bits.n += 1;
    return this;
  }
  toBuffer() { this.flushBits(); return Buffer.concat(this.parts); }
}

/** A field value with an explicit type letter, e.g. typed('b', -1), or raw
 * bytes after an arbitrary letter: typed('Z', Buffer.from(...), { raw: true }). */
export const typed = (letter, value, { raw = false } = {}) => ({ $typed: true, letter, value, raw });

function encodeFieldValue(v) {
  const w = new Writer();
  if (v && v.$typed) {
    w.push(Buffer.from(v.letter, 'latin1'));
    if (v.raw) return w.push(v.value).toBuffer();
    switch (v.letter) {
      case 't': return w.octet(v.value ? 1 : 0).toBuffer();
      case 'b': { const b = Buffer.alloc(1); b.writeInt8(v.value); return w.push(b).toBuffer(); }
      case 'B': return w.octet(v.value).toBuffer();
      case 's': { const b = Buffer.alloc(2); b.writeInt16BE(v.value); return w.push(b).toBuffer(); }
      case 'u': return w.short(v.value).toBuffer();
      case 'I': { const b = Buffer.alloc(4); b.writeInt32BE(v.value); return w.push(b).toBuffer(); }
      case 'i': return w.long(v.value).toBuffer();
      case 'l': { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(v.value)); return w.push(b).toBuffer(); }
      case 'f': { const b = Buffer.alloc(4); b.writeFloatBE(v.value); return w.push(b).toBuffer(); }
      case 'd': { const b = Buffer.alloc(8); b.writeDoubleBE(v.value); return w.push(b).toBuffer(); }
      case 'S': return w.longstr(v.value).toBuffer();
      case 'x': return w.longstr(Buffer.from(v.value)).toBuffer();
      case 'T': return w.longlong(v.value).toBuffer();
      case 'F': return w.table(v.value).toBuffer();
      case 'V': return w.toBuffer();
      default: throw new Error(`cannot encode type ${v.letter} without raw bytes`);
    }
  }
  if (typeof v === 'boolean') return encodeFieldValue(typed('t', v));
  if (typeof v === 'string') return encodeFieldValue(typed('S', v));
  if (typeof v === 'number' && Number.isInteger(v)) return encodeFieldValue(typed(v >= -(2 ** 31) && v < 2 ** 31 ? 'I' : 'l', v));
  if (typeof v === 'number') return encodeFieldValue(typed('d', v));
  if (v === null || v === undefined) return encodeFieldValue(typed('V'));
  if (Buffer.isBuffer(v)) return encodeFieldValue(typed('x', v));
  if (Array.isArray(v)) {
    const body = Buffer.concat(v.map(encodeFieldValue));
    return new Writer().push(Buffer.from('A')).long(body.length).push(body).toBuffer();
  }
  return encodeFieldValue(typed('F', v));
}

function encodeTableBody(t) {
  return Buffer.concat(Object.entries(t).map(([k, v]) =>
    Buffer.concat([new Writer().shortstr(k).toBuffer(), encodeFieldValue(v)])));
}

export function encodeMethodPayload(name, args = {}) {
  const m = METHODS_BY_NAME.get(name);
  if (!m) throw new Error(`unknown method ${name}`);
  const w = new Writer().short(m.classId).short(m.methodId);
  for (const a of m.args) {
    const v = args[a.name];
    if (a.type === 'bit') w.bit(!!v);
    else if (a.type === 'table') w.table(v);
    else if (a.type === 'shortstr' || a.type === 'longstr') w[a.type](v ?? '');
    else w[a.type](v ?? 0);
  }
  return w.toBuffer();
}

/** A whole frame. `end` and `size` can be overridden to build broken frames. */
export function encodeFrame(type, channel, payload, { end = FRAME_END, size } = {}) {
  const head = Buffer.alloc(7);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(size ?? payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([end])]);
}

export const methodFrame = (channel, name, args) => encodeFrame(FRAME.METHOD, channel, encodeMethodPayload(name, args));

export function headerPayload(classId, bodySize, props = {}, { weight = 0 } = {}) {
  let flags = 0;
  const w = new Writer();
  BASIC_PROPERTIES.forEach(([prop, type], i) => {
    if (props[prop] === undefined) return;
    flags |= 1 << (15 - i);
    w[type](props[prop]);
  });
  return new Writer().short(classId).short(weight).longlong(bodySize).short(flags).push(w.toBuffer()).toBuffer();
}
export const headerFrame = (channel, bodySize, props, opts = {}) =>
  encodeFrame(FRAME.HEADER, channel, headerPayload(opts.classId ?? 60, bodySize, props, opts));
export const bodyFrame = (channel, data) => encodeFrame(FRAME.BODY, channel, Buffer.isBuffer(data) ? data : Buffer.from(data));
export const heartbeatFrame = (channel = 0) => encodeFrame(FRAME.HEARTBEAT, channel, Buffer.alloc(0));

// ---------------------------------------------------------------------------
// Decoding

class Reader {
  constructor(buf) { this.buf = buf; this.pos = 0; this.bits = null; }
  need(n) { if (this.pos + n > this.buf.length) throw new Error('truncated'); }
  octet() { this.bits = null; this.need(1); return this.buf.readUInt8(this.pos++); }
  short() { this.bits = null; this.need(2); const v = this.buf.readUInt16BE(this.pos); this.pos += 2; return v; }
  long() { this.bits = null; this.need(4); const v = this.buf.readUInt32BE(this.pos); this.pos += 4; return v; }
  longlong() { this.bits = null; this.need(8); const v = this.buf.readBigUInt64BE(this.pos); this.pos += 8; return Number(v); }
  timestamp() { return this.longlong(); }
  bytes(n) { this.bits = null; this.need(n); const b = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return b; }
  shortstr() { return this.bytes(this.octet()).toString('utf8'); }
  longstr() { return this.bytes(this.long()).toString('utf8'); }
  table() { return decodeTable(this.bytes(this.long())); }
  bit() {
    if (!this.bits || this.bits.n === 8) { this.need(1); this.bits = { value: this.buf.readUInt8(this.pos++), n: 0 }; }
    return ((this.bits.value >> this.bits.n++) & 1) === 1;
  }
}

/** Decode a field table into { value, types } where types maps "a.b" key
 * paths to RabbitMQ type letters (order preserved). */
export function decodeTable(buf, prefix = '', types = {}) {
  const r = new Reader(buf);
  const value = {};
  while (r.pos < buf.length) {
    const key = r.shortstr();
    const path = prefix ? `${prefix}.${key}` : key;
    value[key] = decodeFieldValue(r, path, types);
  }
  return { value, types };
}

function decodeFieldValue(r, path, types) {
  const letter = String.fromCharCode(r.octet());
  types[path] = letter;
  switch (letter) {
    case 't': return r.octet() !== 0;
    case 'b': return r.bytes(1).readInt8(0);
    case 'B': return r.octet();
    case 's': return r.bytes(2).readInt16BE(0);
    case 'u': return r.short();
    case 'I': return r.bytes(4).readInt32BE(0);
    case 'i': return r.long();
    case 'l': return Number(r.bytes(8).readBigInt64BE(0));
    case 'f': return r.bytes(4).readFloatBE(0);
    case 'd': return r.bytes(8).readDoubleBE(0);
    case 'D': { const scale = r.octet(); const v = r.bytes(4).readInt32BE(0); return { scale, value: v }; }
    case 'S': return r.longstr();
    case 'x': return r.bytes(r.long()).toString('hex');
    case 'T': return r.longlong();
    case 'F': return decodeTable(r.bytes(r.long()), path, types).value;
    case 'A': {
      const inner = new Reader(r.bytes(r.long()));
      const out = [];
      while (inner.pos < inner.buf.length) out.push(decodeFieldValue(inner, `${path}[${out.length}]`, types));
      return out;
    }
    case 'V': return null;
    default: throw new Error(`unknown field type ${letter}`);
  }
}

export function decodeMethod(payload) {
  if (payload.length < 4) return { name: `(short method payload ${payload.toString('hex')})` };
  const classId = payload.readUInt16BE(0);
  const methodId = payload.readUInt16BE(2);
  const m = METHODS_BY_ID.get(`${classId}.${methodId}`);
  if (!m) return { name: `unknown.${classId}.${methodId}`, classId, methodId };
  const r = new Reader(payload.subarray(4));
  const args = {};
  try {
    for (const a of m.args) args[a.name] = r[a.type]();
  } catch (e) {
    args.$decodeError = String(e.message);
  }
  return { name: m.name, classId, methodId, args };
}

// ---------------------------------------------------------------------------
// Connection wrapper: buffers incoming bytes, splits them into frames, keeps
// a timestamped event log, and lets steps wait for / collect events.

const now = () => performance.now();
export const round100 = (ms) => Math.round(ms / 100) * 100;

function hexPreview(buf, max = 64) {
  const hex = buf.subarray(0, max).toString('hex');
  return buf.length > max ? `${hex}…(${buf.length} bytes)` : hex;
}

export class Conn {
  static open(host, port, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port });
      const timer = setTimeout(() => { sock.destroy(); reject(new Error('connect timeout')); }, timeoutMs);
      sock.once('connect', () => { clearTimeout(timer); resolve(new Conn(sock)); });
      sock.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.events = []; // { at, frame: 'method'|'header'|'body'|'heartbeat'|'raw', ... }
    this.rawMode = false; // set once unparseable bytes arrive
    this.closedAt = null;
    this.closeHow = null;
    this.autoCloseOk = true;
    this.clientSentCloseOk = false;
    this.listeners = new Set();
    sock.setNoDelay(true);
    sock.on('data', (d) => this.onData(d));
    sock.on('end', () => this.onClosed('fin'));
    sock.on('error', (e) => this.onClosed(e.code === 'ECONNRESET' ? 'reset' : `error:${e.code ?? e.message}`));
    sock.on('close', () => this.onClosed('close'));
  }

  get closed() { return this.closedAt !== null; }

  onClosed(how) {
    if (this.closedAt !== null) return;
    this.closedAt = now();
    this.closeHow = how;
    this.sock.destroy();
    this.notify();
  }

  notify() { for (const fn of [...this.listeners]) fn(); }

  onData(chunk) {
    const at = now();
    this.buf = Buffer.concat([this.buf, chunk]);
    this.lastDataAt = at;
    for (;;) {
      if (this.rawMode) {
        if (this.buf.length) this.pushEvent({ at, frame: 'raw', bytes: this.buf });
        this.buf = Buffer.alloc(0);
        break;
      }
      // A protocol header instead of a frame (version refusal).
      if (this.buf.length >= 4 && this.buf.subarray(0, 4).toString('latin1') === 'AMQP') {
        if (this.buf.length < 8) break;
        this.pushEvent({ at, frame: 'raw', bytes: this.buf.subarray(0, 8) });
        this.buf = this.buf.subarray(8);
        continue;
      }
      if (this.buf.length < 7) break;
      const type = this.buf.readUInt8(0);
      const size = this.buf.readUInt32BE(3);
      if (![1, 2, 3, 8].includes(type) || size > 64 * 1024 * 1024) { this.rawMode = true; continue; }
      if (this.buf.length < 8 + size) break;
      if (this.buf.readUInt8(7 + size) !== FRAME_END) { this.rawMode = true; continue; }
      const channel = this.buf.readUInt16BE(1);
      const payload = this.buf.subarray(7, 7 + size);
      this.buf = this.buf.subarray(8 + size);
      this.pushEvent(this.decodeFrame(at, type, channel, payload));
    }
    this.notify();
  }

  decodeFrame(at, type, channel, payload) {
    switch (type) {
      case FRAME.METHOD: {
        const m = decodeMethod(payload);
        return { at, frame: 'method', channel, method: m.name, args: m.args, payload };
      }
      case FRAME.HEADER:
        return {
          at, frame: 'header', channel,
          classId: payload.readUInt16BE(0), weight: payload.readUInt16BE(2), bodySize: Number(payload.readBigUInt64BE(4)),
        };
      case FRAME.BODY: return { at, frame: 'body', channel, size: payload.length, payload };
      default: return { at, frame: 'heartbeat', channel, size: payload.length };
    }
  }

  pushEvent(ev) {
    this.events.push(ev);
    if (this.autoCloseOk && ev.frame === 'method' && ev.method === 'connection.close' && ev.channel === 0) {
      this.clientSentCloseOk = true;
      this.write(methodFrame(0, 'connection.close-ok'));
    }
  }

  write(buf) {
    if (this.closed || this.sock.destroyed) return false;
    try { this.sock.write(buf); return true; } catch { return false; }
  }

  sendMethod(channel, name, args) { return this.write(methodFrame(channel, name, args)); }

  /** Resolve with the first event at index >= from matching pred. Rejects on
   * timeout or socket close. */
  waitFor(pred, { from = 0, timeoutMs = 5000, what = 'frame' } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        for (let i = from; i < this.events.length; i++) {
          if (pred(this.events[i])) { done(); resolve(this.events[i]); return; }
        }
        if (this.closed) { done(); reject(new Error(`socket closed while waiting for ${what}; got ${summarise(this.events.slice(from))}`)); }
      };
      const done = () => { clearTimeout(timer); this.listeners.delete(check); };
      timer = setTimeout(() => { done(); reject(new Error(`timeout waiting for ${what}; got ${summarise(this.events.slice(from))}`)); }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  waitMethod(name, opts = {}) {
    return this.waitFor((e) => e.frame === 'method' && e.method === name, { what: name, ...opts });
  }

  /** Wait until the socket closes, `quietMs` pass without any incoming data,
   * or `maxMs` pass in total (all measured from `since`). If the server sent
   * connection.close (at index >= from) the quiet rule is suspended and we
   * wait up to `closeWaitMs` after that frame for the socket to close. */
  settle(since, { from = 0, quietMs = 1500, maxMs = 60000, closeWaitMs = 5000 } = {}) {
    return new Promise((resolve) => {
      let timer;
      const tick = () => {
        if (this.closed) return finish();
        const t = now();
        if (t - since >= maxMs) return finish();
        const close = this.events.slice(from).find((e) => e.frame === 'method' && e.channel === 0 && e.method === 'connection.close');
        if (close) {
          if (t - close.at >= closeWaitMs) return finish();
        } else {
          const last = Math.max(since, this.lastDataAt ?? since);
          if (t - last >= quietMs) return finish();
        }
        timer = setTimeout(tick, Math.min(50, quietMs / 4));
      };
      const finish = () => { clearTimeout(timer); this.listeners.delete(onEvent); resolve(); };
      const onEvent = () => { if (this.closed) finish(); };
      timer = setTimeout(tick, 10);
      this.listeners.add(onEvent);
    });
  }

  close() { if (!this.sock.destroyed) this.sock.destroy(); }
}

function summarise(events) {
  return events.length ? events.map((e) => e.method ?? e.frame).join(', ') : 'nothing';
}

/** Normalise one received event for the report. */
function normaliseEvent(e, t0) {
  const base = { atMs: round100(e.at - t0) };
  switch (e.frame) {
    case 'raw':
      return { frame: 'raw', hex: e.bytes.toString('hex'), text: e.bytes.toString('latin1').replace(/[^\x20-\x7e]/g, '.'), ...base };
    case 'method': {
      const out = { frame: 'method', channel: e.channel, method: e.method };
      const a = e.args ?? {};
      if (e.method === 'connection.close' || e.method === 'channel.close') {
        Object.assign(out, { replyCode: a.replyCode, replyText: a.replyText, classId: a.classId, methodId: a.methodId });
      } else if (e.method === 'connection.start') {
        Object.assign(out, { versionMajor: a.versionMajor, versionMinor: a.versionMinor });
      } else if (e.method === 'connection.tune' || e.method === 'channel.flow' || e.method === 'channel.flow-ok') {
        Object.assign(out, a);
      } else if (e.method === 'basic.get-ok') {
        Object.assign(out, { deliveryTag: a.deliveryTag, messageCount: a.messageCount });
      } else if (e.method === 'queue.declare-ok') {
        Object.assign(out, { messageCount: a.messageCount, consumerCount: a.consumerCount });
      } else if (e.method === 'basic.return') {
        Object.assign(out, { replyCode: a.replyCode, replyText: a.replyText });
      }
      if (a.$decodeError) out.decodeError = a.$decodeError;
      return { ...out, ...base };
    }
    case 'header':
      return { frame: 'header', channel: e.channel, classId: e.classId, bodySize: e.bodySize, ...base };
    case 'body':
      return { frame: 'body', channel: e.channel, size: e.size, ...base };
    default:
      return { frame: 'heartbeat', channel: e.channel, ...base };
  }
}

// ---------------------------------------------------------------------------
// Handshake helpers

export const DEFAULT_CLIENT_PROPERTIES = {
  product: 'warren-wire-probe',
  platform: 'node',
  capabilities: {
    publisher_confirms: true,
    'exchange_exchange_bindings': true,
    'basic.nack': true,
    consumer_cancel_notify: true,
    'connection.blocked': true,
    authentication_failure_close: true,
  },
};

export const plainResponse = (user = 'guest', pass = 'guest', authzid = '') =>
  Buffer.from(`${authzid}\0${user}\0${pass}`, 'utf8');

/** AMQPLAIN: a field table *without* its length prefix. */
export const amqplainResponse = (user = 'guest', pass = 'guest') => encodeTableBody({ LOGIN: user, PASSWORD: pass });

/** Send the protocol header and wait for connection.start. */
export async function sendHeader(conn, header = PROTOCOL_HEADER) {
  const from = conn.events.length;
  conn.write(header);
  return conn.waitMethod('connection.start', { from });
}

export function startOkFrame({
  clientProperties = DEFAULT_CLIENT_PROPERTIES, mechanism = 'PLAIN', response = plainResponse(), locale = 'en_US',
} = {}) {
  return methodFrame(0, 'connection.start-ok', { clientProperties, mechanism, response, locale });
}

export const startOk = (conn, opts) => conn.write(startOkFrame(opts));

/**
 * Full handshake up to connection.open-ok. Options:
 *   tune: (serverTune) => ({ channelMax, frameMax, heartbeat })  default: accept server's values
 *   vhost, startOk: {...} overrides.
 * Returns { start, tune, tuneOk } (decoded args).
 */
export async function handshake(conn, { tune = (t) => t, vhost = '/', startOkOptions = {} } = {}) {
  const start = await sendHeader(conn);
  const from = conn.events.length;
  startOk(conn, startOkOptions);
  const tuneEv = await conn.waitMethod('connection.tune', { from });
  const tuneOk = tune({ ...tuneEv.args });
  const from2 = conn.events.length;
  conn.write(Buffer.concat([methodFrame(0, 'connection.tune-ok', tuneOk), methodFrame(0, 'connection.open', { virtualHost: vhost })]));
  await conn.waitMethod('connection.open-ok', { from: from2 });
  return { start: start.args, tune: tuneEv.args, tuneOk };
}

export async function openChannel(conn, channel = 1) {
  const from = conn.events.length;
  conn.sendMethod(channel, 'channel.open');
  await conn.waitFor((e) => e.frame === 'method' && e.method === 'channel.open-ok' && e.channel === channel, { from, what: `channel.open-ok on ${channel}` });
}

/** Send a method on `channel` and wait for its reply method (same channel). */
export async function rpc(conn, channel, name, args, replyName) {
  const from = conn.events.length;
  conn.sendMethod(channel, name, args);
  return conn.waitFor((e) => e.frame === 'method' && e.channel === channel && e.method === replyName, { from, what: replyName });
}

// ---------------------------------------------------------------------------
// Scenario context: tracks connections and records steps.

class Context {
  constructor(host, port) { this.host = host; this.port = port; this.conns = []; this.steps = []; this.details = undefined; }

  async connect() {
    const c = await Conn.open(this.host, this.port);
    this.conns.push(c);
    return c;
  }

  /** Connect, handshake (options as for handshake()), open channel 1. */
  async ready(opts = {}) {
    const c = await this.connect();
    c.negotiated = await handshake(c, opts);
    if (opts.channel !== false) await openChannel(c, 1);
    return c;
  }

  /**
   * One step of interest: write `bytes` (a Buffer, an array of Buffers sent in
   * one write, or a function doing the sending), then collect everything the
   * server sends until close / quiet / max. Returns and records the step.
   */
  async step(conn, label, bytes, { quietMs = 1500, maxMs = 60000, closeWaitMs = 5000, autoCloseOk = true } = {}) {
    conn.autoCloseOk = autoCloseOk;
    conn.clientSentCloseOk = false;
    const from = conn.events.length;
    const t0 = now();
    let sentHex;
    if (typeof bytes === 'function') {
      await bytes(conn);
    } else {
      const buf = Array.isArray(bytes) ? Buffer.concat(bytes) : bytes;
      sentHex = hexPreview(buf);
      conn.write(buf);
    }
    const wasClosed = conn.closed;
    await conn.settle(t0, { from, quietMs, maxMs, closeWaitMs });
    const result = {
      step: label,
      ...(sentHex !== undefined ? { sentHex } : {}),
      replies: conn.events.slice(from).map((e) => normaliseEvent(e, t0)),
      closed: conn.closed
        ? { byServer: true, afterMs: wasClosed ? 0 : round100(conn.closedAt - t0), how: conn.closeHow }
        : { byServer: false, waitedMs: round100(now() - t0) },
    };
    if (conn.clientSentCloseOk) result.clientSentCloseOk = true;
    this.steps.push(result);
    return result;
  }

  cleanup() { for (const c of this.conns) c.close(); }
}

// Shorthands for building frames inside scenarios.
const M = methodFrame;
const qos = (ch = 1) => M(ch, 'basic.qos', { prefetchCount: 0 });
const publish = (ch, exchange, routingKey, extra = {}) => M(ch, 'basic.publish', { exchange, routingKey, ...extra });

/** Declare an exclusive queue named q on channel 1. */
const declareQueue = (c, q, extra = {}) => rpc(c, 1, 'queue.declare', { queue: q, exclusive: true, ...extra }, 'queue.declare-ok');

/** Scenario: full handshake + channel 1, then one bad step. */
function afterOpen(name, description, bytes, stepOpts = {}, readyOpts = {}) {
  return {
    name, description,
    async run(ctx) {
      const c = await ctx.ready(readyOpts);
      await ctx.step(c, description, bytes, stepOpts);
    },
  };
}

/** Scenario: write a protocol header and record raw reply + close. */
function headerScenario(name, description, header) {
  return {
    name, description,
    async run(ctx) {
      const c = await ctx.connect();
      await ctx.step(c, description, header, { quietMs: 1500 });
    },
  };
}

/** Scenario: handshake with given tune-ok values (sent together with connection.open). */
function tuneScenario(name, values, stepOpts = { quietMs: 5000 }) {
  const description = `tune-ok ${Object.entries(values).map(([k, v]) => `${k}=${v}`).join(' ')} (other fields = server's), immediately followed by connection.open`;
  return {
    name, description,
    async run(ctx) {
      const c = await ctx.connect();
      await sendHeader(c);
      const from = c.events.length;
      startOk(c);
      const tune = await c.waitMethod('connection.tune', { from });
      const tuneOk = { ...tune.args, ...values };
      await ctx.step(c, description, [M(0, 'connection.tune-ok', tuneOk), M(0, 'connection.open', { virtualHost: '/' })], stepOpts);
    },
  };
}

/** Scenario: start-ok with the given options; waits long enough to see a delayed close. */
function startOkScenario(name, description, startOkOptions, stepOpts = {}) {
  return {
    name, description,
    async run(ctx) {
      const c = await ctx.connect();
      await sendHeader(c);
      const step = await ctx.step(c, description, startOkFrame(startOkOptions), { quietMs: 5000, ...stepOpts });
      // If the login went through, finish the handshake to show it works.
      if (!c.closed && step.replies.some((r) => r.method === 'connection.tune')) {
        const tune = c.events.find((e) => e.method === 'connection.tune').args;
        await ctx.step(c, 'tune-ok (server values) + connection.open "/"', [M(0, 'connection.tune-ok', tune), M(0, 'connection.open', { virtualHost: '/' })]);
      }
    },
  };
}

// ---------------------------------------------------------------------------
// Scenarios

const HANDSHAKE_TIMEOUT_WAIT = { quietMs: 20000, maxMs: 20000 };

export const SCENARIOS = [
  // --- protocol header ------------------------------------------------------
  headerScenario('header-amqp-0-9-0', 'protocol header AMQP 0 0 9 0', Buffer.from('AMQP\x00\x00\x09\x00', 'latin1')),
  headerScenario('header-amqp-0-9-legacy', 'protocol header AMQP 1 1 0 9 (0-9 legacy form)', Buffer.from('AMQP\x01\x01\x00\x09', 'latin1')),
  headerScenario('header-amqp-0-8', 'protocol header AMQP 1 1 8 0 (0-8)', Buffer.from('AMQP\x01\x01\x08\x00', 'latin1')),
  headerScenario('header-amqp-0-10', 'protocol header AMQP 0 0 10 0', Buffer.from('AMQP\x00\x00\x0a\x00', 'latin1')),
  headerScenario('header-amqp-1-0', 'protocol header AMQP 0 1 0 0 (AMQP 1.0)', Buffer.from('AMQP\x00\x01\x00\x00', 'latin1')),
  headerScenario('header-http-get', 'HTTP request line "GET / HTTP/1.1\\r\\n\\r\\n"', Buffer.from('GET / HTTP/1.1\r\n\r\n', 'latin1')),
  {
    name: 'header-byte-at-a-time',
    description: 'valid header AMQP 0 0 9 1 written one byte per write, 50 ms apart',
    async run(ctx) {
      const c = await ctx.connect();
      await ctx.step(c, this.description, async (conn) => {
        for (const b of PROTOCOL_HEADER) { conn.write(Buffer.from([b])); await sleep(50); }
      });
    },
  },

  // --- handshake ------------------------------------------------------------
  {
    name: 'handshake-silent-before-header',
    description: 'connect and send nothing; time until the server closes (measured from connect)',
    async run(ctx) {
      const c = await ctx.connect();
      await ctx.step(c, 'nothing sent', Buffer.alloc(0), HANDSHAKE_TIMEOUT_WAIT);
    },
  },
  {
    name: 'handshake-silent-after-start',
    description: 'valid header, receive connection.start, then send nothing; time measured from the header',
    async run(ctx) {
      const c = await ctx.connect();
      await ctx.step(c, 'protocol header, then silence', PROTOCOL_HEADER, HANDSHAKE_TIMEOUT_WAIT);
    },
  },
  {
    name: 'handshake-connection-start',
    description: 'full connection.start (server-properties, mechanisms, locales) and connection.tune contents',
    async run(ctx) {
      const c = await ctx.connect();
      const start = await sendHeader(c);
      const from = c.events.length;
      startOk(c);
      const tune = await c.waitMethod('connection.tune', { from });
      const props = start.args.serverProperties;
      ctx.details = {
        start: {
          versionMajor: start.args.versionMajor,
          versionMinor: start.args.versionMinor,
          serverProperties: props.value,
          serverPropertyTypes: props.types,
          mechanisms: start.args.mechanisms,
          locales: start.args.locales,
        },
        tune: tune.args,
      };
      await ctx.step(c, 'connection.close from client during tuning (no tune-ok yet)', M(0, 'connection.close', { replyCode: 200, replyText: 'bye' }), { quietMs: 5000 });
    },
  },
  startOkScenario('start-ok-unknown-mechanism', 'start-ok with mechanism "FOO"', { mechanism: 'FOO' }),
  startOkScenario('start-ok-wrong-password', 'start-ok PLAIN guest/wrong, client capabilities without authentication_failure_close',
    { response: plainResponse('guest', 'wrong'), clientProperties: { product: 'warren-wire-probe', capabilities: { publisher_confirms: true } } }),
  startOkScenario('start-ok-wrong-password-auth-failure-close', 'start-ok PLAIN guest/wrong, capabilities.authentication_failure_close = true',
    { response: plainResponse('guest', 'wrong') }),
  startOkScenario('start-ok-unknown-user', 'start-ok PLAIN nosuchuser/guest, authentication_failure_close = true',
    { response: plainResponse('nosuchuser', 'guest') }),
  startOkScenario('start-ok-amqplain', 'start-ok AMQPLAIN with {LOGIN: guest, PASSWORD: guest} (table body without length prefix)',
    { mechanism: 'AMQPLAIN', response: amqplainResponse() }),
  startOkScenario('start-ok-plain-no-authzid', 'start-ok PLAIN response "\\0guest\\0guest"', { response: plainResponse('guest', 'guest') }),
  startOkScenario('start-ok-plain-with-authzid', 'start-ok PLAIN response "authzid\\0guest\\0guest"', { response: plainResponse('guest', 'guest', 'authzid') }),
  startOkScenario('start-ok-plain-malformed', 'start-ok PLAIN response "guest" (no NUL separators)', { response: Buffer.from('guest') }),
  startOkScenario('start-ok-no-capabilities', 'start-ok with empty client-properties table, PLAIN guest/guest', { clientProperties: {} }),

  tuneScenario('tune-ok-frame-max-4096', { frameMax: 4096 }),
  tuneScenario('tune-ok-frame-max-4095', { frameMax: 4095 }),
  tuneScenario('tune-ok-frame-max-0', { frameMax: 0 }),
  tuneScenario('tune-ok-frame-max-200000', { frameMax: 200000 }),
  tuneScenario('tune-ok-channel-max-0', { channelMax: 0 }),
  tuneScenario('tune-ok-channel-max-65535', { channelMax: 65535 }),
  tuneScenario('tune-ok-channel-max-3000', { channelMax: 3000 }),
  tuneScenario('tune-ok-channel-max-3', { channelMax: 3 }),
  tuneScenario('tune-ok-heartbeat-0', { heartbeat: 0 }),
  // Short window so the 1 s heartbeat's frames do not blur the result.
  tuneScenario('tune-ok-heartbeat-1', { heartbeat: 1 }, { quietMs: 300, maxMs: 300 }),
  tuneScenario('tune-ok-heartbeat-600', { heartbeat: 600 }),
  {
    name: 'open-unknown-vhost',
    description: 'connection.open with virtual-host "no-such-vhost"',
    async run(ctx) {
      const c = await ctx.connect();
      await sendHeader(c);
      const from = c.events.length;
      startOk(c);
      const tune = await c.waitMethod('connection.tune', { from });
      c.write(M(0, 'connection.tune-ok', tune.args));
      await ctx.step(c, this.description, M(0, 'connection.open', { virtualHost: 'no-such-vhost' }), { quietMs: 5000 });
    },
  },
  {
    name: 'open-before-tune-ok',
    description: 'connection.open sent after connection.tune without a tune-ok',
    async run(ctx) {
      const c = await ctx.connect();
      await sendHeader(c);
      const from = c.events.length;
      startOk(c);
      await c.waitMethod('connection.tune', { from });
      await ctx.step(c, this.description, M(0, 'connection.open', { virtualHost: '/' }), { quietMs: 5000 });
    },
  },
  {
    name: 'channel-open-before-start-ok',
    description: 'channel.open on channel 1 sent instead of connection.start-ok',
    async run(ctx) {
      const c = await ctx.connect();
      await sendHeader(c);
      await ctx.step(c, this.description, M(1, 'channel.open'), { quietMs: 5000 });
    },
  },
  {
    name: 'channel-open-before-open',
    description: 'channel.open on channel 1 sent after tune-ok, before connection.open',
    async run(ctx) {
      const c = await ctx.connect();
      await sendHeader(c);
      const from = c.events.length;
      startOk(c);
      const tune = await c.waitMethod('connection.tune', { from });
      c.write(M(0, 'connection.tune-ok', tune.args));
      await ctx.step(c, this.description, M(1, 'channel.open'), { quietMs: 5000 });
    },
  },

  // --- channels -------------------------------------------------------------
  afterOpen('method-on-unopened-channel', 'basic.qos on channel 5 (never opened)', qos(5)),
  afterOpen('channel-open-twice', 'channel.open on channel 1 which is already open', M(1, 'channel.open')),
  afterOpen('channel-open-on-channel-0', 'channel.open on channel 0', M(0, 'channel.open')),
  afterOpen('channel-open-above-channel-max', 'channel.open on channel 2048 (negotiated channel_max 2047)', M(2048, 'channel.open')),
  afterOpen('channel-open-channel-65535', 'channel.open on channel 65535 (negotiated channel_max 2047)', M(65535, 'channel.open')),
  {
    name: 'channel-max-3-open-four',
    description: 'channel_max 3 negotiated; open channels 1, 2, 3 then 4',
    async run(ctx) {
      const c = await ctx.ready({ tune: (t) => ({ ...t, channelMax: 3 }) });
      await openChannel(c, 2);
      await openChannel(c, 3);
      await ctx.step(c, 'channel.open on channel 4 with channels 1-3 open', M(4, 'channel.open'));
    },
  },
  {
    name: 'channel-max-3-high-number',
    description: 'channel_max 3 negotiated; channel 1 open; open channel 10 (number above max, count below)',
    async run(ctx) {
      const c = await ctx.ready({ tune: (t) => ({ ...t, channelMax: 3 }) });
      await ctx.step(c, 'channel.open on channel 10', M(10, 'channel.open'));
    },
  },
  {
    name: 'channel-max-3-reopen-after-close',
    description: 'channel_max 3 negotiated; open 1, 2, 3; close 1; open 3 channels more (4, 5, 6)',
    async run(ctx) {
      const c = await ctx.ready({ tune: (t) => ({ ...t, channelMax: 3 }) });
      await openChannel(c, 2);
      await openChannel(c, 3);
      await rpc(c, 1, 'channel.close', { replyCode: 200, replyText: 'bye' }, 'channel.close-ok');
      await ctx.step(c, 'channel.open on channel 4 (3 channels open before: 2, 3 → 2 open)', M(4, 'channel.open'));
      if (!c.closed) await ctx.step(c, 'channel.open on channel 5 (2, 3, 4 open)', M(5, 'channel.open'));
    },
  },

  // --- content framing ------------------------------------------------------
  afterOpen('content-header-without-publish', 'content header (class 60, size 10) on channel 1 with no basic.publish before it', headerFrame(1, 10)),
  afterOpen('content-body-without-header', 'body frame (5 bytes) on channel 1 with no publish/header before it', bodyFrame(1, 'hello')),
  afterOpen('publish-then-method', 'basic.publish then basic.qos on channel 1 (no content header)', [publish(1, '', 'x'), qos(1)]),
  {
    name: 'body-longer-than-header',
    description: 'basic.publish + header announcing 10 bytes + one 11-byte body frame',
    async run(ctx) {
      const c = await ctx.ready();
      const q = 'warren-probe.body-longer';
      await declareQueue(c, q);
      await ctx.step(c, this.description, [publish(1, '', q), headerFrame(1, 10), bodyFrame(1, '0123456789X')]);
      if (!c.closed) await ctx.step(c, 'basic.get (no-ack) from the target queue', M(1, 'basic.get', { queue: q, noAck: true }));
    },
  },
  {
    name: 'body-split-5-6-of-10',
    description: 'basic.publish + header announcing 10 bytes + bodies of 5 then 6 bytes',
    async run(ctx) {
      const c = await ctx.ready();
      const q = 'warren-probe.body-split';
      await declareQueue(c, q);
      await ctx.step(c, this.description, [publish(1, '', q), headerFrame(1, 10), bodyFrame(1, '01234'), bodyFrame(1, '56789X')]);
      if (!c.closed) await ctx.step(c, 'basic.get (no-ack) from the target queue', M(1, 'basic.get', { queue: q, noAck: true }));
    },
  },
  {
    name: 'body-split-5-5-of-10',
    description: 'control: basic.publish + header 10 bytes + bodies of 5 and 5, then basic.get',
    async run(ctx) {
      const c = await ctx.ready();
      const q = 'warren-probe.body-ok';
      await declareQueue(c, q);
      await ctx.step(c, this.description, [publish(1, '', q), headerFrame(1, 10), bodyFrame(1, '01234'), bodyFrame(1, '56789'), M(1, 'basic.get', { queue: q, noAck: true })]);
    },
  },
  afterOpen('header-class-mismatch', 'basic.publish then a content header with class-id 50 (size 0)',
    [publish(1, '', 'x'), encodeFrame(FRAME.HEADER, 1, headerPayload(50, 0))]),
  {
    name: 'header-nonzero-weight',
    description: 'basic.publish + content header with weight 7, size 3 + body, then basic.get',
    async run(ctx) {
      const c = await ctx.ready();
      const q = 'warren-probe.weight';
      await declareQueue(c, q);
      await ctx.step(c, this.description, [publish(1, '', q), headerFrame(1, 3, {}, { weight: 7 }), bodyFrame(1, 'abc'), M(1, 'basic.get', { queue: q, noAck: true })]);
    },
  },
  {
    name: 'frame-larger-than-frame-max',
    description: 'basic.publish + header (size frame_max+100) + one body frame with frame_max+100 payload bytes (frame_max 131072)',
    async run(ctx) {
      const c = await ctx.ready();
      const n = c.negotiated.tuneOk.frameMax + 100;
      await ctx.step(c, this.description, [publish(1, '', 'x'), headerFrame(1, n), bodyFrame(1, Buffer.alloc(n, 0x61))]);
    },
  },
  {
    name: 'frame-exactly-frame-max',
    description: 'control: body frame whose total size (header 7 + payload + end 1) is exactly frame_max',
    async run(ctx) {
      const c = await ctx.ready();
      const q = 'warren-probe.frame-max';
      await declareQueue(c, q);
      const n = c.negotiated.tuneOk.frameMax - 8;
      await ctx.step(c, this.description, [publish(1, '', q), headerFrame(1, n), bodyFrame(1, Buffer.alloc(n, 0x61)), M(1, 'basic.get', { queue: q, noAck: true })]);
    },
  },
  {
    name: 'frame-payload-frame-max',
    description: 'body frame whose payload is exactly frame_max bytes (total frame = frame_max + 8)',
    async run(ctx) {
      const c = await ctx.ready();
      const n = c.negotiated.tuneOk.frameMax;
      await ctx.step(c, this.description, [publish(1, '', 'x'), headerFrame(1, n), bodyFrame(1, Buffer.alloc(n, 0x61))]);
    },
  },
  afterOpen('bad-frame-end', 'basic.qos method frame on channel 1 with frame-end byte 0x00 instead of 0xCE',
    encodeFrame(FRAME.METHOD, 1, encodeMethodPayload('basic.qos', {}), { end: 0x00 })),
  afterOpen('unknown-frame-type-channel-0', 'frame type 9 on channel 0, 4-byte payload', encodeFrame(9, 0, Buffer.from([1, 2, 3, 4]))),
  afterOpen('unknown-frame-type-channel-1', 'frame type 9 on channel 1, 4-byte payload', encodeFrame(9, 1, Buffer.from([1, 2, 3, 4]))),
  afterOpen('unknown-class-id', 'method frame class 99 method 10 on channel 1 (no arguments)',
    encodeFrame(FRAME.METHOD, 1, Buffer.from([0, 99, 0, 10]))),
  afterOpen('unknown-method-id', 'method frame basic(60).999 on channel 1 (no arguments)',
    encodeFrame(FRAME.METHOD, 1, Buffer.from([0, 60, 0x03, 0xe7]))),
  afterOpen('truncated-method-args', 'queue.declare on channel 1 with its argument bytes cut after the queue name (no bits, no table)',
    (() => {
      const full = encodeMethodPayload('queue.declare', { queue: 'warren-probe.truncated' });
      return encodeFrame(FRAME.METHOD, 1, full.subarray(0, 4 + 2 + 1 + 'warren-probe.truncated'.length));
    })()),
  afterOpen('truncated-method-args-mid-string', 'queue.declare on channel 1 whose queue-name shortstr length says 20 but only 3 bytes follow',
    encodeFrame(FRAME.METHOD, 1, Buffer.concat([Buffer.from([0, 50, 0, 10, 0, 0, 20]), Buffer.from('abc')]))),
  afterOpen('method-trailing-garbage', 'basic.qos on channel 1 followed by 4 extra bytes inside the method frame',
    encodeFrame(FRAME.METHOD, 1, Buffer.concat([encodeMethodPayload('basic.qos', {}), Buffer.from([0xde, 0xad, 0xbe, 0xef])]))),
  afterOpen('field-table-unknown-type', "queue.declare with arguments {x: type 'Z', 1 byte}",
    M(1, 'queue.declare', { queue: 'warren-probe.table', exclusive: true, arguments: { x: typed('Z', Buffer.from([0]), { raw: true }) } })),
  afterOpen('field-table-bad-length', 'queue.declare whose arguments table length (100) runs past the end of the frame',
    (() => {
      const payload = Buffer.from(encodeMethodPayload('queue.declare', { queue: 'warren-probe.badtable', exclusive: true }));
      payload.writeUInt32BE(100, payload.length - 4);
      return encodeFrame(FRAME.METHOD, 1, payload);
    })()),
  afterOpen('heartbeat-on-channel-1', 'heartbeat frame on channel 1', heartbeatFrame(1)),
  afterOpen('heartbeat-with-payload', 'heartbeat frame on channel 0 with a 2-byte payload', encodeFrame(FRAME.HEARTBEAT, 0, Buffer.from([1, 2]))),
  afterOpen('content-header-on-channel-0', 'content header (class 60, size 0) on channel 0', headerFrame(0, 0)),
  afterOpen('content-body-on-channel-0', 'body frame (5 bytes) on channel 0', bodyFrame(0, 'hello')),
  afterOpen('basic-qos-on-channel-0', 'basic.qos on channel 0', qos(0)),
  afterOpen('connection-close-on-channel-1', 'connection.close (200) on channel 1', M(1, 'connection.close', { replyCode: 200, replyText: 'bye' })),
  afterOpen('connection-tune-ok-on-channel-1', 'connection.tune-ok on channel 1', M(1, 'connection.tune-ok', { channelMax: 2047, frameMax: 131072, heartbeat: 60 })),
  afterOpen('zero-length-method-frame', 'method frame with an empty payload on channel 1', encodeFrame(FRAME.METHOD, 1, Buffer.alloc(0))),
  afterOpen('zero-length-method-frame-channel-0', 'method frame with an empty payload on channel 0', encodeFrame(FRAME.METHOD, 0, Buffer.alloc(0))),
  {
    name: 'method-after-client-channel-close',
    description: 'client channel.close on 1, then basic.qos on 1 before close-ok arrives (one write), then reopen 1',
    async run(ctx) {
      const c = await ctx.ready();
      await ctx.step(c, 'channel.close + basic.qos on channel 1 in one write', [M(1, 'channel.close', { replyCode: 200, replyText: 'bye' }), qos(1)]);
      if (!c.closed) await ctx.step(c, 'channel.open on channel 1', M(1, 'channel.open'));
    },
  },
  {
    name: 'channel-exception-then-more-frames',
    description: 'queue.declare passive of a missing queue (404), then more methods on the channel before close-ok, then close-ok, then reopen',
    async run(ctx) {
      const c = await ctx.ready();
      await ctx.step(c, 'queue.declare passive "warren-probe.missing"', M(1, 'queue.declare', { queue: 'warren-probe.missing', passive: true }));
      if (c.closed) return;
      await ctx.step(c, 'basic.qos + queue.declare (non-passive) + publish/header/body on channel 1 before channel.close-ok',
        [qos(1), M(1, 'queue.declare', { queue: 'warren-probe.after-404', exclusive: true }), publish(1, '', 'x'), headerFrame(1, 1), bodyFrame(1, 'z')]);
      if (c.closed) return;
      await ctx.step(c, 'channel.close-ok on channel 1', M(1, 'channel.close-ok'));
      if (c.closed) return;
      await ctx.step(c, 'channel.open on channel 1 again', M(1, 'channel.open'));
    },
  },
  {
    name: 'channel-exception-answered-with-close',
    description: 'after a server channel.close (404) the client sends channel.close instead of channel.close-ok',
    async run(ctx) {
      const c = await ctx.ready();
      await ctx.step(c, 'queue.declare passive "warren-probe.missing"', M(1, 'queue.declare', { queue: 'warren-probe.missing', passive: true }));
      if (c.closed) return;
      await ctx.step(c, 'channel.close (200) on channel 1', M(1, 'channel.close', { replyCode: 200, replyText: 'bye' }));
      if (c.closed) return;
      await ctx.step(c, 'channel.open on channel 1 again', M(1, 'channel.open'));
    },
  },
  afterOpen('channel-flow-active-false', 'channel.flow active=false on channel 1', M(1, 'channel.flow', { active: false })),
  afterOpen('channel-flow-active-true', 'channel.flow active=true on channel 1', M(1, 'channel.flow', { active: true })),
  {
    name: 'server-close-ignored-frames',
    description: 'provoke a connection.close (basic.qos on unopened channel 5), do NOT send close-ok; send other frames; time until the server closes (negotiated heartbeat 60)',
    async run(ctx) {
      const c = await ctx.ready();
      await ctx.step(c, 'basic.qos on channel 5 (never opened); no close-ok', qos(5), { autoCloseOk: false, quietMs: 1000, closeWaitMs: 1000 });
      if (c.closed) return;
      await ctx.step(c, 'channel.open 2, basic.qos 1, heartbeat, connection.open, connection.close — no close-ok; wait for the server',
        [M(2, 'channel.open'), qos(1), heartbeatFrame(0), M(0, 'connection.open', { virtualHost: '/' }), M(0, 'connection.close', { replyCode: 200, replyText: 'bye' })],
        { autoCloseOk: false, quietMs: 40000, maxMs: 40000 });
    },
  },
  {
    name: 'server-close-ignored-heartbeat-5',
    description: 'as server-close-ignored-frames but heartbeat 5 negotiated and the client stays silent after the close',
    async run(ctx) {
      const c = await ctx.ready({ tune: (t) => ({ ...t, heartbeat: 5 }) });
      await ctx.step(c, 'basic.qos on channel 5 (never opened); no close-ok; then silence', qos(5), { autoCloseOk: false, quietMs: 40000, maxMs: 40000, closeWaitMs: 40000 });
    },
  },
  {
    name: 'server-close-answered-with-close',
    description: 'provoke a connection.close, answer it with connection.close (not close-ok)',
    async run(ctx) {
      const c = await ctx.ready();
      await ctx.step(c, 'basic.qos on channel 5 (never opened); no close-ok', qos(5), { autoCloseOk: false, quietMs: 1000, closeWaitMs: 1000 });
      if (c.closed) return;
      await ctx.step(c, 'connection.close (200) from client', M(0, 'connection.close', { replyCode: 200, replyText: 'bye' }), { autoCloseOk: false, quietMs: 5000 });
    },
  },
  // Long wait: RabbitMQ does not close the socket itself after close-ok.
  afterOpen('connection-close-by-client', 'connection.close (200 "bye") from the client; wait up to 35 s for the server to close the socket',
    M(0, 'connection.close', { replyCode: 200, replyText: 'bye' }), { quietMs: 35000, maxMs: 35000 }),
  afterOpen('connection-close-with-frames-after', 'connection.close from client followed (same write) by basic.qos on channel 1',
    [M(0, 'connection.close', { replyCode: 200, replyText: 'bye' }), qos(1)]),

  // --- method semantics -------------------------------------------------------
  afterOpen('exchange-declare-unknown-type', 'exchange.declare "warren-probe.x" type "foo"', M(1, 'exchange.declare', { exchange: 'warren-probe.x', type: 'foo', autoDelete: true })),
  afterOpen('basic-qos-prefetch-size', 'basic.qos prefetch_size=1', M(1, 'basic.qos', { prefetchSize: 1 })),
  afterOpen('basic-qos-global', 'control: basic.qos prefetch_count=10 global=true', M(1, 'basic.qos', { prefetchCount: 10, global: true })),
  afterOpen('basic-publish-immediate', 'basic.publish immediate=true + header (size 0) to the default exchange',
    [publish(1, '', 'warren-probe.nowhere', { immediate: true }), headerFrame(1, 0)]),
  afterOpen('basic-publish-mandatory-unroutable', 'control: basic.publish mandatory=true + header (size 0) to an unroutable key',
    [publish(1, '', 'warren-probe.nowhere', { mandatory: true }), headerFrame(1, 0)]),
  afterOpen('basic-recover-requeue-false', 'basic.recover requeue=false', M(1, 'basic.recover', { requeue: false })),
  afterOpen('basic-recover-async', 'basic.recover-async requeue=true (deprecated)', M(1, 'basic.recover-async', { requeue: true })),
  {
    name: 'basic-consume-duplicate-tag',
    description: 'basic.consume twice with consumer tag "dup" on the same channel',
    async run(ctx) {
      const c = await ctx.ready();
      const q = 'warren-probe.consume-dup';
      await declareQueue(c, q);
      await rpc(c, 1, 'basic.consume', { queue: q, consumerTag: 'dup' }, 'basic.consume-ok');
      await ctx.step(c, 'second basic.consume with consumer tag "dup"', M(1, 'basic.consume', { queue: q, consumerTag: 'dup' }));
    },
  },
  afterOpen('basic-ack-unknown-tag', 'basic.ack delivery-tag 1 (nothing delivered)', M(1, 'basic.ack', { deliveryTag: 1 })),
  afterOpen('basic-ack-multiple-zero', 'basic.ack delivery-tag 0 multiple=true with nothing outstanding, then basic.qos as a ping',
    [M(1, 'basic.ack', { deliveryTag: 0, multiple: true }), qos(1)]),
  afterOpen('basic-ack-multiple-unknown-tag', 'basic.ack delivery-tag 5 multiple=true with nothing outstanding',
    M(1, 'basic.ack', { deliveryTag: 5, multiple: true })),
  afterOpen('basic-nack-unknown-tag', 'basic.nack delivery-tag 1 (nothing delivered)', M(1, 'basic.nack', { deliveryTag: 1, requeue: true })),
  afterOpen('basic-reject-unknown-tag', 'basic.reject delivery-tag 1 (nothing delivered)', M(1, 'basic.reject', { deliveryTag: 1, requeue: true })),
  afterOpen('confirm-then-tx', 'confirm.select then tx.select (one write)', [M(1, 'confirm.select'), M(1, 'tx.select')]),
  afterOpen('tx-then-confirm', 'tx.select then confirm.select (one write)', [M(1, 'tx.select'), M(1, 'confirm.select')]),
  afterOpen('tx-commit-without-select', 'tx.commit without tx.select', M(1, 'tx.commit')),
  afterOpen('tx-rollback-without-select', 'tx.rollback without tx.select', M(1, 'tx.rollback')),
  afterOpen('header-body-size-200mib', 'basic.publish + content header announcing 200 MiB (no body sent)',
    [publish(1, '', 'warren-probe.big'), headerFrame(1, 200 * 1024 * 1024)]),
  {
    name: 'header-body-size-200mib-with-body',
    description: 'publish + header announcing 200 MiB, then the first body frame (131064 bytes)',
    async run(ctx) {
      const c = await ctx.ready();
      await ctx.step(c, this.description, [publish(1, '', 'warren-probe.big'), headerFrame(1, 200 * 1024 * 1024), bodyFrame(1, Buffer.alloc(131064, 0x61))]);
    },
  },
  {
    name: 'body-size-200mib-full',
    description: 'basic.publish + header announcing 200 MiB + all 200 MiB of body (frames of frame_max-8) to an unroutable key',
    async run(ctx) {
      const c = await ctx.ready();
      const total = 200 * 1024 * 1024;
      const chunk = c.negotiated.tuneOk.frameMax - 8;
      const full = bodyFrame(1, Buffer.alloc(chunk, 0x61));
      const frames = [publish(1, '', 'warren-probe.big'), headerFrame(1, total)];
      for (let left = total; left > 0; left -= chunk) frames.push(left >= chunk ? full : bodyFrame(1, Buffer.alloc(left, 0x61)));
      await ctx.step(c, this.description, frames, { quietMs: 3000 });
    },
  },
  afterOpen('publish-missing-exchange', 'basic.publish to exchange "warren-probe.missing" + header (size 0)',
    [publish(1, 'warren-probe.missing', 'k'), headerFrame(1, 0)]),
  afterOpen('publish-missing-exchange-no-content', 'basic.publish to exchange "warren-probe.missing" without header (does the error wait for content?)',
    publish(1, 'warren-probe.missing', 'k')),
  afterOpen('exchange-declare-amq-prefix', 'exchange.declare "amq.foo" type direct (active)', M(1, 'exchange.declare', { exchange: 'amq.foo', type: 'direct' })),
  afterOpen('exchange-declare-amq-prefix-passive', 'exchange.declare "amq.foo" passive', M(1, 'exchange.declare', { exchange: 'amq.foo', type: 'direct', passive: true })),
  afterOpen('queue-declare-amq-prefix', 'queue.declare "amq.foo"', M(1, 'queue.declare', { queue: 'amq.foo', exclusive: true })),
  {
    name: 'exclusive-queue-other-connection',
    description: 'connection A declares exclusive queue "warren-probe.exclusive"; connection B declares it, then (new channel) passive-declares it',
    async run(ctx) {
      const a = await ctx.ready();
      await declareQueue(a, 'warren-probe.exclusive');
      const b = await ctx.ready();
      await ctx.step(b, 'B: queue.declare "warren-probe.exclusive" (exclusive=false)', M(1, 'queue.declare', { queue: 'warren-probe.exclusive' }));
      if (b.closed) return;
      await openChannel(b, 2);
      await ctx.step(b, 'B: queue.declare passive "warren-probe.exclusive" on channel 2', M(2, 'queue.declare', { queue: 'warren-probe.exclusive', passive: true }));
    },
  },

  // --- heartbeats -----------------------------------------------------------
  {
    name: 'heartbeat-1s-silent',
    description: 'heartbeat 1 s negotiated; client silent after open-ok; record server heartbeats and the close',
    async run(ctx) {
      const c = await ctx.ready({ tune: (t) => ({ ...t, heartbeat: 1 }), channel: false });
      await ctx.step(c, 'silence after connection.open-ok (heartbeat 1)', Buffer.alloc(0), { quietMs: 15000, maxMs: 15000 });
    },
  },
  {
    name: 'heartbeat-2s-keepalive',
    description: 'heartbeat 2 s negotiated; client sends a heartbeat every 1 s for 6 s; record server heartbeat times, then connection.close',
    async run(ctx) {
      const c = await ctx.ready({ tune: (t) => ({ ...t, heartbeat: 2 }), channel: false });
      await ctx.step(c, 'client heartbeats every 1 s for 6 s', async (conn) => {
        for (let i = 0; i < 6; i++) { conn.write(heartbeatFrame(0)); await sleep(1000); }
      }, { quietMs: 100, maxMs: 100 });
      await ctx.step(c, 'connection.close from client', M(0, 'connection.close', { replyCode: 200, replyText: 'bye' }));
    },
  },
];

// ---------------------------------------------------------------------------
// Runner

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 5672, only: null, json: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--host') opts.host = argv[++i];
    else if (a === '--port') opts.port = Number(argv[++i]);
    else if (a === '--only') opts.only = argv[++i].split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--json') opts.json = true;
    else if (a === '--list') opts.list = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node tools/wire-probe.mjs --host H --port N [--only a,b] [--json] [--list]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

export async function runScenario(scenario, host, port) {
  const ctx = new Context(host, port);
  const started = now();
  let error;
  try {
    await scenario.run.call(scenario, ctx);
  } catch (e) {
    error = String(e.message ?? e);
  } finally {
    ctx.cleanup();
  }
  return {
    name: scenario.name,
    description: scenario.description,
    steps: ctx.steps,
    ...(ctx.details ? { details: ctx.details } : {}),
    ...(error ? { error } : {}),
    durationMs: round100(now() - started),
  };
}

/** Identify the broker from a plain connection.start. */
async function identify(host, port) {
  const c = await Conn.open(host, port);
  try {
    const start = await sendHeader(c);
    const p = start.args.serverProperties.value;
    return { product: p.product, version: p.version, platform: p.platform };
  } finally { c.close(); }
}

function formatReply(r) {
  const at = `@${r.atMs}ms`;
  if (r.frame === 'raw') return `raw ${r.hex} "${r.text}" ${at}`;
  if (r.frame === 'method') {
    if (r.replyCode !== undefined && r.method.endsWith('close')) {
      return `ch${r.channel} ${r.method} ${r.replyCode} "${r.replyText}" (${r.classId}.${r.methodId}) ${at}`;
    }
    return `ch${r.channel} ${r.method} ${at}`;
  }
  if (r.frame === 'header') return `ch${r.channel} header class=${r.classId} size=${r.bodySize} ${at}`;
  if (r.frame === 'body') return `ch${r.channel} body ${r.size}B ${at}`;
  return `ch${r.channel} heartbeat ${at}`;
}

function printText(result) {
  console.log(`\n## ${result.name} — ${result.description}`);
  for (const s of result.steps) {
    console.log(`  > ${s.step}`);
    if (!s.replies.length) console.log('    (no frames)');
    for (const r of s.replies) console.log(`    < ${formatReply(r)}`);
    const closed = s.closed.byServer ? `closed by server after ${s.closed.afterMs} ms (${s.closed.how})` : `still open after ${s.closed.waitedMs} ms`;
    console.log(`    ${closed}${s.clientSentCloseOk ? '; probe answered close-ok' : ''}`);
  }
  if (result.details) console.log(`  details: ${JSON.stringify(result.details)}`);
  if (result.error) console.log(`  ERROR: ${result.error}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.list) {
    for (const s of SCENARIOS) console.log(`${s.name}\t${s.description}`);
    return;
  }
  let scenarios = SCENARIOS;
  if (opts.only) {
    const unknown = opts.only.filter((n) => !SCENARIOS.some((s) => s.name === n));
    if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
    scenarios = SCENARIOS.filter((s) => opts.only.includes(s.name));
  }
  const broker = await identify(opts.host, opts.port);
  const results = [];
  for (const s of scenarios) {
    const r = await runScenario(s, opts.host, opts.port);
    results.push(r);
    if (!opts.json) printText(r);
    else process.stderr.write(`${r.name}${r.error ? ' ERROR' : ''}\n`);
  }
  if (opts.json) {
    const out = {
      generator: 'tools/wire-probe.mjs',
      broker,
      target: `${opts.host}:${opts.port}`,
      date: new Date().toISOString(),
      notes: [
        'Times are ms since the step\'s input was written, rounded to 100 ms.',
        'When the server sends connection.close the probe answers connection.close-ok (clientSentCloseOk: true) unless the scenario says it does not.',
        'After a server connection.close the probe waits up to 5 s for the socket to close; otherwise it stops after 1.5 s of silence (longer where the scenario measures a timeout).',
        'closed.byServer=false means the socket was still open when the probe stopped listening (waitedMs).',
      ],
      scenarios: results,
    };
    console.log(JSON.stringify(out, null, 2));
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('wire-probe.mjs')) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
