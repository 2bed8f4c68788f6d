/**
 * Gathers what is asked for in one turn of the event loop and hands it over in one go once the turn
 * is over: the webhooks or jobs of one moment share one commit or one round trip.
 *
 * Holds the gathered items, so it is state: each one is built by the object that owns what it
 * batches (a database's group commit, the queues' enqueuer, the SMS rate), in createDeps, never at
 * module level.
 */
export class ThisTurn<T> {
  private gathered: T[] = [];

  constructor(private readonly handOver: (items: T[]) => Promise<void>) {}

  add(item: T): void {
    if (this.gathered.length === 0) setImmediate(() => void this.handOver(this.take()));
    this.gathered.push(item);
  }

  /** What is gathered, and a fresh start. */
  take(): T[] {
    const items = this.gathered;
    this.gathered = [];
    return items;
  }

  /** Puts items back in front of what has gathered since (a group that must try again). */
  putBack(items: readonly T[]): void {
    this.gathered = [...items, ...this.gathered];
  }
}
