/**
 * Gathers what is asked for in one turn of the event loop, per key (a database, the queues), and
 * hands it over in one go once the turn is over: the webhooks or jobs of one moment share one
 * commit or one round trip.
 */
export class ThisTurn<K extends object, T> {
  private readonly gathered = new WeakMap<K, T[]>();

  constructor(private readonly handOver: (key: K, items: T[]) => Promise<void>) {}

  add(key: K, item: T): void {
    let items = this.gathered.get(key);
    if (!items) {
      items = [];
      this.gathered.set(key, items);
      setImmediate(() => void this.handOver(key, this.take(key)));
    }
    items.push(item);
  }

  /** What is gathered for `key`, and a fresh start. */
  take(key: K): T[] {
    const items = this.gathered.get(key) ?? [];
    this.gathered.delete(key);
    return items;
  }

  /** Puts items back in front of what has gathered since (a group that must try again). */
  putBack(key: K, items: readonly T[]): void {
    this.gathered.set(key, [...items, ...(this.gathered.get(key) ?? [])]);
  }
}
