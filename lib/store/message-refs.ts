/**
 * How many durable queues still hold each logged message: the message
 * log's garbage collector reads it to know which segments can be deleted or
 * compacted.
 *
 * Message ids only grow and are dense, so the counts live in chunks of
 * 65,536 u16 counters indexed by id (2 bytes a message, no object per
 * message); a chunk whose ids have all been handed out and whose counts have
 * all dropped to zero is freed. An id never seen, or in a freed chunk, counts
 * zero: it can never come back to life, since ids are not reused.
 */
const CHUNK_BITS = 16;
const CHUNK_SIZE = 1 << CHUNK_BITS;
const MASK = CHUNK_SIZE - 1;

interface Chunk {
  counts: Uint16Array;
  /** ids of this chunk with a count above zero */
  live: number;
}

export class MessageRefs {
  private readonly chunks = new Map<number, Chunk>();
  /** the highest id added so far: a chunk below it is complete and may be freed once empty */
  private highestId = 0;

  /** A message was logged for `queues` durable queues. */
  add(id: number, queues: number): void {
    if (queues <= 0) return;
    const index = id >>> CHUNK_BITS;
    let chunk = this.chunks.get(index);
    if (!chunk) {
      chunk = { counts: new Uint16Array(CHUNK_SIZE), live: 0 };
      this.chunks.set(index, chunk);
    }
    if (chunk.counts[id & MASK] === 0) chunk.live++;
    chunk.counts[id & MASK] = queues;
    if (id > this.highestId) this.highestId = id;
  }

  /** One queue no longer holds the message (acked, purged, its queue deleted). */
  release(id: number): void {
    const index = id >>> CHUNK_BITS;
    const chunk = this.chunks.get(index);
    if (!chunk) return;
    const at = id & MASK;
    const n = chunk.counts[at]!;
    if (n === 0) return;
    chunk.counts[at] = n - 1;
    if (n === 1 && --chunk.live === 0 && (index + 1) * CHUNK_SIZE <= this.highestId) this.chunks.delete(index);
  }

  count(id: number): number {
    return this.chunks.get(id >>> CHUNK_BITS)?.counts[id & MASK] ?? 0;
  }

  /** How many ids in [first, last] are still held by some queue. */
  liveIn(first: number, last: number): number {
    let live = 0;
    for (let index = first >>> CHUNK_BITS; index <= last >>> CHUNK_BITS; index++) {
      const chunk = this.chunks.get(index);
      if (!chunk || chunk.live === 0) continue;
      const base = index * CHUNK_SIZE;
      const from = Math.max(first, base) - base;
      const to = Math.min(last, base + MASK) - base;
      if (from === 0 && to === MASK) {
        live += chunk.live;
        continue;
      }
      const counts = chunk.counts;
      for (let i = from; i <= to; i++) if (counts[i] !== 0) live++;
    }
    return live;
  }
}
