/** Fanout exchange: a message goes to every binding, whatever its routing key. */
import type { Binding, Destination } from './binding.js';
import { Exchange, removeOne } from './exchange.js';
import type { Message } from './message.js';

export class FanoutExchange extends Exchange {
  readonly type = 'fanout';
  private readonly destinations: Destination[] = [];

  route(_message: Message, _routingKey: string, out: Destination[]): void {
    const ds = this.destinations;
    for (let i = 0; i < ds.length; i++) out.push(ds[i]!);
  }

  protected onBind(b: Binding): void {
    this.destinations.push(b.destination);
  }

  protected onUnbind(b: Binding): void {
    removeOne(this.destinations, b.destination);
  }
}
