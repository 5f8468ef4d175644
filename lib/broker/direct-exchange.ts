/** Direct exchange: a message goes to the bindings whose key equals its routing key (one map lookup). */
import type { Binding, Destination } from './binding.js';
import { Exchange, removeOne } from './exchange.js';
import type { Message } from './message.js';

export class DirectExchange extends Exchange {
  readonly type = 'direct';
  private readonly byKey = new Map<string, Destination[]>();

  route(_message: Message, routingKey: string, out: Destination[]): void {
    const ds = this.byKey.get(routingKey);
    if (ds) for (let i = 0; i < ds.length; i++) out.push(ds[i]!);
  }

  protected onBind(b: Binding): void {
    const ds = this.byKey.get(b.routingKey);
    if (ds) ds.push(b.destination);
    else this.byKey.set(b.routingKey, [b.destination]);
  }

  protected onUnbind(b: Binding): void {
    const ds = this.byKey.get(b.routingKey);
    if (!ds) return;
    removeOne(ds, b.destination);
    if (ds.length === 0) this.byKey.delete(b.routingKey);
  }
}
