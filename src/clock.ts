/** The application's sense of time. Everything that asks "what time is it" asks a Clock. */
export interface Clock {
  now(): Date;
}

/** The real time. */
export const systemClock: Clock = { now: () => new Date() };

/**
 * A clock that starts at `start` and then runs on at real speed, for `FAKE_NOW`: a demo at
 * 21:30 stays a demo at 21:30-and-a-bit, so BullMQ's real-time delays still line up with it.
 */
export function offsetClock(start: Date, real: Clock = systemClock): Clock {
  const offset = start.getTime() - real.now().getTime();
  return { now: () => new Date(real.now().getTime() + offset) };
}

/** The clock a configuration asks for. */
export function clockFor(fakeNow: Date | undefined): Clock {
  return fakeNow ? offsetClock(fakeNow) : systemClock;
}

/** A clock that moves only when told to; for tests. */
export class ManualClock implements Clock {
  #now: number;

  constructor(start: Date | string) {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  set(instant: Date | string): void {
    this.#now = new Date(instant).getTime();
  }

  advance(milliseconds: number): void {
    this.#now += milliseconds;
  }
}
