// The frame reader: any chunking of the same bytes gives the same frames;
// bodies arrive as slices of the input (no copies); bad framing is reported once.
import t from 'tap';
import { FrameReader } from '../../lib/amqp/frame-reader.js';
import type { FrameSink } from '../../lib/amqp/frame-reader.js';
import { writeBodyFrames, writeHeaderFrame, writeHeartbeatFrame, writeMethodFrame } from '../../lib/amqp/frame-writer.js';
import { encodeBasicPublish, encodeQueueDeclare } from '../../lib/amqp/generated/methods.js';
import { WireWriter } from '../../lib/amqp/wire-writer.js';

interface Event {
  kind: 'frame' | 'body' | 'error';
  type?: number;
  channel?: number;
  bytes?: Buffer;
  text?: string;
}

class Recorder implements FrameSink {
  events: Event[] = [];
  bodyParts: Buffer[] = [];
  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void {
    this.events.push({ kind: 'frame', type, channel, bytes: Buffer.from(buf.subarray(start, end)) });
  }
  onBody(channel: number, part: Buffer, _frameSize: number, first: boolean): void {
    this.bodyParts.push(part);
    const last = this.events[this.events.length - 1];
    if (!first && last && last.kind === 'body') last.bytes = Buffer.concat([last.bytes!, part]);
    else this.events.push({ kind: 'body', channel, bytes: Buffer.from(part) });
  }
  onFrameError(text: string): void {
    this.events.push({ kind: 'error', text });
  }
}

function stream(): Buffer {
  const w = new WireWriter();
  writeMethodFrame(w, 1, encodeQueueDeclare, { queue: 'q', passive: false, durable: true, exclusive: false, autoDelete: false, noWait: false, arguments: { 'x-max-length': 10 } });
  writeMethodFrame(w, 2, encodeBasicPublish, { exchange: '', routingKey: 'q', mandatory: true, immediate: false });
  writeHeaderFrame(w, 2, 60, 10000, { deliveryMode: 2 });
  writeBodyFrames(w, 2, Buffer.alloc(10000, 7), 4096);
  writeHeartbeatFrame(w);
  writeEmpty(w);
  return w.take();
}

/** An empty body frame (writeBodyFrames writes none for an empty body, but peers may send one). */
function writeEmpty(w: WireWriter): void {
  w.bytes(Buffer.from([3, 0, 2, 0, 0, 0, 0, 0xce]));
}

function run(bytes: Buffer, chunking: (b: Buffer) => Buffer[], frameMax = 131072): Recorder {
  const rec = new Recorder();
  const reader = new FrameReader(rec, frameMax);
  for (const c of chunking(bytes)) reader.push(c);
  return rec;
}

const whole = (b: Buffer): Buffer[] => [b];
const byteByByte = (b: Buffer): Buffer[] => [...b].map((x) => Buffer.from([x]));
const randomChunks = (seed: number) => (b: Buffer): Buffer[] => {
  const out: Buffer[] = [];
  let s = seed;
  for (let i = 0; i < b.length; ) {
    s = (s * 69069 + 1) % 2 ** 32;
    const n = 1 + (s % 700);
    out.push(Buffer.from(b.subarray(i, i + n)));
    i += n;
  }
  return out;
};

t.test('one chunk, byte by byte and random chunks give identical frames', async (t) => {
  const bytes = stream();
  const reference = run(bytes, whole).events;
  t.same(reference.map((e) => [e.kind, e.type ?? null, e.channel]), [
    ['frame', 1, 1], ['frame', 1, 2], ['frame', 2, 2], ['body', null, 2], ['body', null, 2], ['body', null, 2], ['frame', 8, 0], ['body', null, 2],
  ]);
  t.equal(Buffer.concat(reference.filter((e) => e.kind === 'body').map((e) => e.bytes!)).length, 10000);
  t.same(run(bytes, byteByByte).events, reference, 'byte by byte');
  for (const seed of [1, 2, 3, 4, 5]) t.same(run(bytes, randomChunks(seed)).events, reference, `random chunks seed ${seed}`);
});

t.test('bodies are slices of the received chunk, not copies', async (t) => {
  const bytes = stream();
  const rec = run(bytes, whole);
  t.ok(rec.bodyParts.length > 0);
  for (const part of rec.bodyParts) if (part.length) t.equal(part.buffer, bytes.buffer, 'same memory as the input');
});

t.test('a frame over frame_max is refused from its header, before its payload', async (t) => {
  const w = new WireWriter();
  writeBodyFrames(w, 1, Buffer.alloc(5000), 8192);
  const rec = run(w.take().subarray(0, 7), whole, 4096);
  t.equal(rec.events.length, 1);
  t.equal(rec.events[0]!.kind, 'error');
  t.equal(rec.events[0]!.text, 'type 3, all octets = <<>>: {frame_too_large,5000,4088}', "RabbitMQ's text");
});

t.test('like RabbitMQ, a payload of exactly frame_max bytes is let through', async (t) => {
  const w = new WireWriter();
  writeBodyFrames(w, 1, Buffer.alloc(4096), 4096 + 8);
  const rec = run(w.take(), whole, 4096);
  t.same(rec.events.map((e) => e.kind), ['body']);
  t.equal(rec.events[0]!.bytes!.length, 4096);
  const over = new WireWriter();
  writeBodyFrames(over, 1, Buffer.alloc(4097), 4097 + 8);
  t.same(run(over.take(), whole, 4096).events.map((e) => e.kind), ['error'], 'one byte more is refused');
});

t.test('a wrong frame-end octet is a frame error and stops the reader', async (t) => {
  const bytes = stream();
  bytes[bytes.readUInt32BE(3) + 7] = 0x00; // end octet of the first frame
  for (const chunking of [whole, byteByByte]) {
    const rec = run(bytes, chunking);
    t.equal(rec.events.length, 1, 'nothing after the error');
    t.match(rec.events[0]!.text!, /^type 1, all octets = <<0,50,0,10,.*>>: \{invalid_frame_end_marker,0\}$/, "RabbitMQ's text, quoting the frame");
  }
});

t.test('a bad end octet after a body frame quotes the body', async (t) => {
  const frame = Buffer.from([3, 0, 1, 0, 0, 0, 2, 0x68, 0x69, 0x00]);
  for (const chunking of [whole, byteByByte]) {
    const rec = run(frame, chunking);
    t.equal(rec.events.at(-1)!.text, 'type 3, all octets = <<"hi">>: {invalid_frame_end_marker,0}');
  }
});

t.test('frames of any type reach the sink for the connection to judge', async (t) => {
  const frame = Buffer.from([9, 0, 1, 0, 0, 0, 1, 0x42, 0xce]);
  const rec = run(frame, whole);
  t.same(rec.events, [{ kind: 'frame', type: 9, channel: 1, bytes: Buffer.from([0x42]) }]);
});

t.test('pause() stops after the frame being handled; resume() hands over the rest in order', async (t) => {
  const bytes = stream();
  const reference = run(bytes, whole).events;
  for (const [name, chunking] of [['one chunk', whole], ['byte by byte', byteByByte], ['random chunks', randomChunks(7)]] as const) {
    // pause after every event; chunks keep arriving while paused
    const rec = new Recorder();
    const reader = new FrameReader(rec, 131072);
    const onFrame = rec.onFrame.bind(rec);
    const onBody = rec.onBody.bind(rec);
    rec.onFrame = (...args) => {
      onFrame(...args);
      reader.pause();
    };
    rec.onBody = (...args) => {
      onBody(...args);
      reader.pause();
    };
    const counts: number[] = [];
    for (const c of chunking(bytes)) reader.push(c);
    while (reader.paused) {
      counts.push(rec.events.length);
      reader.resume();
    }
    t.same(rec.events, reference, `${name}: same frames, same order`);
    t.ok(counts.length >= reference.length - 1, `${name}: handed over at most one frame (part) per resume`);
    t.ok(counts.every((n, i) => i === 0 || n >= counts[i - 1]!), `${name}: progress on every resume`);
  }
});

t.test('nothing is handed over while paused, and stop() drops what was held', async (t) => {
  const rec = new Recorder();
  const reader = new FrameReader(rec, 131072);
  reader.pause();
  reader.push(stream());
  t.same(rec.events, [], 'held');
  reader.stop();
  reader.resume();
  t.same(rec.events, [], 'dropped');
});
