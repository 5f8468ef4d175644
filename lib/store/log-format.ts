/**
 * The message log's on-disk format, shared by the writer (message-log.ts),
 * recovery (message-recovery.ts) and the garbage collector
 * (log-compactor.ts).
 *
 * Segment files are named NNNNNNNN.wlog and read in name order. A record is
 * u32 payload length, u32 CRC-32 of the payload, then the payload, whose
 * first byte is its type:
 * - Publish: u64 message id, shortstr vhost, u16 queue count and shortstr
 *   names, shortstr exchange, shortstr routing key, longstr properties,
 *   longstr body, u64 time it was logged (ms since the epoch; absent in
 *   records written before it was added, which recovery reads as 0): TTLs
 *   and delays count from it after a restart.
 * - Remove, Delivered, QueueDeleted: u64 message id (0 for QueueDeleted),
 *   shortstr vhost, shortstr queue.
 * - Compacted: u64 number of the first segment it replaces. Only ever the
 *   first record of a segment the collector wrote: it holds the surviving
 *   records of segments [that number, its own number], and any of those
 *   still on disk are leftovers of a collection cut short by a crash.
 */
import { crc32 } from 'node:zlib';

export const RecordType = {
  Publish: 1,
  /** the message left a queue for good (acked, rejected, purged, delivered without ack) */
  Remove: 2,
  /** the message was delivered from a queue (it comes back redelivered after a crash) */
  Delivered: 3,
  /** a queue was deleted: what it held before this record is gone, even if a queue of that name comes back */
  QueueDeleted: 4,
  Compacted: 5,
} as const;

export const RECORD_HEADER = 8;
/** type byte and u64 id: every record type starts with them */
export const RECORD_PREFIX = 9;

export const SEGMENT_PATTERN = /^\d{8}\.wlog$/;

export function segmentName(n: number): string {
  return `${String(n).padStart(8, '0')}.wlog`;
}

export function segmentNumber(file: string): number {
  return Number(file.slice(0, 8));
}

/** The u64 id at the start of a payload (ids stay below 2^53). */
export function readRecordId(buf: Buffer, payloadStart: number): number {
  return buf.readUInt32BE(payloadStart + 1) * 0x1_0000_0000 + buf.readUInt32BE(payloadStart + 5);
}

/** The end of the intact record at pos, or -1 when it is cut short or fails its checksum. */
export function intactRecordEnd(buf: Buffer, pos: number): number {
  if (pos + RECORD_HEADER > buf.length) return -1;
  const end = pos + RECORD_HEADER + buf.readUInt32BE(pos);
  if (end > buf.length || end < pos + RECORD_HEADER + RECORD_PREFIX) return -1;
  if (crc32(buf.subarray(pos + RECORD_HEADER, end)) !== buf.readUInt32BE(pos + 4)) return -1;
  return end;
}

/**
 * Walk the intact records of a segment's bytes from `from`: fn(start, end)
 * gets each record's whole extent (header included). Returns the offset of
 * the first record that is cut short or fails its checksum, or buf.length.
 */
export function scanRecords(buf: Buffer, fn: (start: number, end: number) => void, from = 0): number {
  let pos = from;
  while (pos < buf.length) {
    const end = intactRecordEnd(buf, pos);
    if (end < 0) return pos;
    fn(pos, end);
    pos = end;
  }
  return pos;
}

/**
 * Where to go on after a damaged record at pos: the end its length field
 * gives, when an intact record starts there (the damage is in this record's
 * bytes, not a torn tail); -1 otherwise.
 */
export function afterDamagedRecord(buf: Buffer, pos: number): number {
  if (pos + RECORD_HEADER > buf.length) return -1;
  const end = pos + RECORD_HEADER + buf.readUInt32BE(pos);
  return end < buf.length && intactRecordEnd(buf, end) > 0 ? end : -1;
}

/** A whole record holding only a type and a u64 (the Compacted marker). */
export function encodeMarker(type: number, value: number): Buffer {
  const buf = Buffer.alloc(RECORD_HEADER + RECORD_PREFIX);
  buf.writeUInt32BE(RECORD_PREFIX, 0);
  buf.writeUInt8(type, RECORD_HEADER);
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), RECORD_HEADER + 1);
  buf.writeUInt32BE(value >>> 0, RECORD_HEADER + 5);
  buf.writeUInt32BE(crc32(buf.subarray(RECORD_HEADER)), 4);
  return buf;
}
