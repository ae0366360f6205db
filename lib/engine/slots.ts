// A counting semaphore whose waiters are served by priority (highest first, then arrival order).
// The executor keeps two: build slots (--jobs) and probe slots, so cheap probes of a no-op run are not
// queued behind the job limit meant for builds.

type Waiter = { priority: number; seq: number; wake: () => void };

export class Slots {
  #free: number;
  readonly #waiting: Waiter[] = [];
  #seq = 0;

  constructor(count: number) {
    this.#free = Math.max(1, count);
  }

  /** Runs `work` when a slot is free; higher `priority` goes first. */
  async run<T>(priority: number, work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else {
      await new Promise<void>((wake) => {
        this.#waiting.push({ priority, seq: this.#seq++, wake });
        this.#waiting.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
      });
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter; otherwise it is freed.
      if (next) next.wake();
      else this.#free++;
    }
  }
}
