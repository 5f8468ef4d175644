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
  t.match(rec.events[0]!.text!, /5000 bytes exceeds frame_max payload of 4088/);
});

t.test('a wrong frame-end octet is a frame error and stops the reader', async (t) => {
  const bytes = stream();
  bytes[bytes.readUInt32BE(3) + 7] = 0x00; // end octet of the first frame
  for (const chunking of [whole, byteByByte]) {
    const rec = run(bytes, chunking);
    t.equal(rec.events.length, 1, 'nothing after the error');
    t.match(rec.events[0]!.text!, /invalid frame end marker 0x0/);
  }
});

t.test('frames of any type reach the sink for the connection to judge', async (t) => {
  const frame = Buffer.from([9, 0, 1, 0, 0, 0, 1, 0x42, 0xce]);
  const rec = run(frame, whole);
  t.same(rec.events, [{ kind: 'frame', type: 9, channel: 1, bytes: Buffer.from([0x42]) }]);
});
