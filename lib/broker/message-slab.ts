/**
 * Slabs for message bytes: small messages are copied into large shared
 * buffers, one after another, so a message needs no Buffer of its own. A
 * slab is freed by the garbage collector once no message in it is alive;
 * queues consume in order, so slabs are released in order too.
 */
const SLAB_SIZE = 256 * 1024;

export class MessageSlab {
  /** the buffer the last allocate() returned an offset into */
  slab: Buffer = Buffer.allocUnsafeSlow(SLAB_SIZE);
  private used = 0;

  /** Room for n bytes: returns the offset into `this.slab`. */
  allocate(n: number): number {
    if (n > SLAB_SIZE / 4) {
      this.slab = Buffer.allocUnsafeSlow(n);
      this.used = SLAB_SIZE; // the next small message starts a fresh slab
      return 0;
    }
    if (this.used + n > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.used = 0;
    }
    const at = this.used;
    this.used += n;
    return at;
  }
}

/** The broker's slab allocator (single-threaded: one is enough). */
export const messageSlab = new MessageSlab();
