// A counting semaphore whose waiters are served by priority (highest first, then arrival order).
// The executor keeps build slots (--jobs), a set per pool (Target.pool) and probe slots, so cheap
// probes of a no-op run are not queued behind the job limit meant for builds.

type Waiter = { priority: number; seq: number; wake: () => void };

export type SlotsOptions = {
  /**
   * Hand out slots one event-loop turn later, so that everything that asked in the same turn (the
   * targets a finished dependency or the start of a run made ready together) competes by priority:
   * otherwise the first to ask takes a free slot, and at the start of a run that is whichever target
   * came first in the graph, not the one on the critical path. For builds (seconds each); probes
   * (milliseconds, rarely short of slots) are served at once.
   */
  byPriorityPerTurn?: boolean;
};

export class Slots {
  #free: number;
  readonly #waiting: Waiter[] = [];
  #seq = 0;
  readonly #perTurn: boolean;
  #scheduled = false;

  constructor(count: number, options: SlotsOptions = {}) {
    this.#free = Math.max(1, count);
    this.#perTurn = !!options.byPriorityPerTurn;
  }

  /** Runs `work` when a slot is free; higher `priority` goes first. */
  async run<T>(priority: number, work: () => Promise<T>): Promise<T> {
    if (this.#free > 0 && !this.#perTurn) this.#free--;
    else {
      await new Promise<void>((wake) => {
        this.#waiting.push({ priority, seq: this.#seq++, wake });
        this.#waiting.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
        this.#schedule();
      });
    }
    try {
      return await work();
    } finally {
      this.#free++;
      this.#schedule();
    }
  }

  #schedule(): void {
    if (!this.#perTurn) return this.#grant();
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#grant();
    });
  }

  #grant(): void {
    while (this.#free > 0 && this.#waiting.length > 0) {
      this.#free--;
      this.#waiting.shift()!.wake();
    }
  }
}
