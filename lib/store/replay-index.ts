/**
 * What replaying the message log leaves of each message, kept small enough
 * for logs of tens of millions of messages: per message id, where its
 * publish record is (segment index and offset, so recovery can read the
 * bytes again, one segment at a time, instead of holding every segment in
 * memory), its record number, and which queue still holds it and whether
 * it was delivered from there. That is about 15 bytes a message, in chunks
 * of 65,536 ids allocated only where ids exist (ids have gaps after
 * compaction).
 *
 * A message routed to one queue (the common case) needs nothing more. One
 * routed to several queues keeps a small map of them, outside the chunks.
 * Queues are named by a number: an index into `queueKeys` ("vhost\0name").
 */
const CHUNK_BITS = 16;
const CHUNK_SIZE = 1 << CHUNK_BITS;
const MASK = CHUNK_SIZE - 1;

/** `queue` values besides a queue number */
const GONE = -1;
const SEVERAL = -2;

interface Chunk {
  segment: Uint16Array;
  offset: Uint32Array;
  recordNo: Float64Array;
  /** the one queue holding it, GONE, or SEVERAL (see `several`) */
  queue: Int32Array;
  delivered: Uint8Array;
}

/** A message still held: where its publish record is, and its queues with their delivered flags. */
export interface HeldMessage {
  id: number;
  segment: number;
  offset: number;
  queues: Map<number, boolean>;
}

export class ReplayIndex {
  private readonly chunks = new Map<number, Chunk>();
  private readonly several = new Map<number, Map<number, boolean>>();
  private readonly keyNumbers = new Map<string, number>();
  /** "vhost\0queue" by queue number */
  readonly queueKeys: string[] = [];
  /** queue number -> record number of its last deletion */
  private readonly deletedAt = new Map<number, number>();
  lastMessageId = 0;

  queueNumber(vhost: string, queue: string): number {
    const key = `${vhost}\u0000${queue}`;
    let n = this.keyNumbers.get(key);
    if (n === undefined) {
      n = this.queueKeys.length;
      this.queueKeys.push(key);
      this.keyNumbers.set(key, n);
    }
    return n;
  }

  private chunk(id: number, create: boolean): Chunk | undefined {
    const index = id >>> CHUNK_BITS;
    let c = this.chunks.get(index);
    if (!c && create) {
      c = {
        segment: new Uint16Array(CHUNK_SIZE),
        offset: new Uint32Array(CHUNK_SIZE),
        recordNo: new Float64Array(CHUNK_SIZE),
        queue: new Int32Array(CHUNK_SIZE).fill(GONE),
        delivered: new Uint8Array(CHUNK_SIZE),
      };
      this.chunks.set(index, c);
    }
    return c;
  }

  /** A publish record (a repeat of an id, from a compacted copy, replaces the earlier one). */
  published(id: number, segment: number, offset: number, recordNo: number, queues: number[]): void {
    const c = this.chunk(id, true)!;
    const at = id & MASK;
    c.segment[at] = segment;
    c.offset[at] = offset;
    c.recordNo[at] = recordNo;
    c.delivered[at] = 0;
    if (queues.length === 1) {
      c.queue[at] = queues[0]!;
      this.several.delete(id);
    } else {
      c.queue[at] = SEVERAL;
      this.several.set(id, new Map(queues.map((q) => [q, false])));
    }
    if (id > this.lastMessageId) this.lastMessageId = id;
  }

  delivered(id: number, queue: number): void {
    const c = this.chunk(id, false);
    if (!c) return;
    const at = id & MASK;
    if (c.queue[at] === queue) c.delivered[at] = 1;
    else if (c.queue[at] === SEVERAL) {
      const qs = this.several.get(id)!;
      if (qs.has(queue)) qs.set(queue, true);
    }
  }

  removed(id: number, queue: number): void {
    const c = this.chunk(id, false);
    if (!c) return;
    const at = id & MASK;
    if (c.queue[at] === queue) c.queue[at] = GONE;
    else if (c.queue[at] === SEVERAL) {
      const qs = this.several.get(id)!;
      qs.delete(queue);
      if (qs.size === 0) {
        this.several.delete(id);
        c.queue[at] = GONE;
      }
    }
  }

  queueDeleted(queue: number, recordNo: number): void {
    this.deletedAt.set(queue, recordNo);
  }

  /** The messages some queue still holds, in id (publish) order, without queues deleted after the publish. */
  *held(): Generator<HeldMessage> {
    const indexes = [...this.chunks.keys()].sort((a, b) => a - b);
    for (const index of indexes) {
      const c = this.chunks.get(index)!;
      for (let at = 0; at < CHUNK_SIZE; at++) {
        const q = c.queue[at]!;
        if (q === GONE) continue;
        const id = index * CHUNK_SIZE + at;
        const recordNo = c.recordNo[at]!;
        const queues = q === SEVERAL ? new Map(this.several.get(id)!) : new Map([[q, c.delivered[at] === 1]]);
        for (const k of [...queues.keys()]) {
          const deleted = this.deletedAt.get(k);
          if (deleted !== undefined && deleted > recordNo) queues.delete(k);
        }
        if (queues.size > 0) yield { id, segment: c.segment[at]!, offset: c.offset[at]!, queues };
      }
    }
  }
}
