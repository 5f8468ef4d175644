/**
 * x-expires: the lease of a queue that nobody uses. Each use (declare,
 * passive declare, basic.get, a consumer coming or going) restarts it; it
 * does not run while the queue has consumers; when it runs out the queue is
 * deleted (RabbitMQ's rabbit_amqqueue_process ensure_expiry_timer).
 */
export class UnusedQueueTimer {
  private timer: NodeJS.Timeout | null = null;

  /** `expire` is called after ms without a use, unless the queue has consumers by then. */
  constructor(
    private readonly ms: number,
    private readonly expire: () => void,
  ) {}

  restart(hasConsumers: boolean): void {
    this.stop();
    if (hasConsumers) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.expire();
    }, this.ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
