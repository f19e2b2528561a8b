/**
 * How long a request read now has waited for the event loop, from the order of the
 * loop's work (no kernel timestamps in Node). Requests read in one turn of the loop form a
 * batch: libuv read their sockets after one poll, so each waited at least since the batch
 * began. Before that, a socket was ready and unread while the loop was busy elsewhere: if
 * the loop slept since the last batch, the sockets became ready after it slept and waited
 * for the work it woke to (timers, say); if it never slept, they became ready at any time
 * since the last batch began. Half of that span is the expected wait. It also keeps the
 * turns that accepted a connection, for the connections still waiting to be (backlogAge).
 */
export class ReadWait {
  private open = false;
  private batchStart = performance.now();
  private before = 0;
  private lastEnd = this.batchStart;
  private idleAtLastEnd = performance.eventLoopUtilization().idle;
  /** Whether the current turn accepted a connection. */
  private accepted = false;
  /** When the first of the turns in a row that each accepted a connection began; undefined when the last turn accepted none. */
  private acceptingSince: number | undefined;
  private readonly close = (): void => {
    this.open = false;
    if (!this.accepted) this.acceptingSince = undefined;
    else this.acceptingSince ??= this.batchStart;
    this.accepted = false;
    this.worked(performance.now());
  };

  /**
   * The loop is working now (a batch ended, an answer went out): when it sleeps after this
   * and then reads, what it reads came during the sleep, not during the work before.
   */
  worked(now: number): void {
    this.lastEnd = now;
    this.idleAtLastEnd = performance.eventLoopUtilization().idle;
  }

  /** The estimated moment a request read at `now` became ready (ms, performance.now()'s clock). */
  readyAt(now: number): number {
    if (!this.open) this.begin(now);
    return this.batchStart - this.before;
  }

  /** A connection was accepted now. */
  connected(now: number): void {
    if (!this.open) this.begin(now);
    this.accepted = true;
  }

  /**
   * How long (ms) connections have been waiting to be accepted, as far as can be told:
   * libuv accepts one per turn of the loop, so while every turn accepts one the kernel's
   * queue has not been empty, and what waits there is unread and ageing. A turn that
   * accepted none found it empty: 0.
   */
  backlogAge(now: number): number {
    const since = this.acceptingSince ?? (this.accepted ? this.batchStart : undefined);
    return since === undefined ? 0 : now - since;
  }

  /** While a batch is open (until the loop's check phase), when it began; undefined after. */
  get openBatch(): number | undefined {
    return this.open ? this.batchStart : undefined;
  }

  private begin(now: number): void {
    this.open = true;
    const slept = performance.eventLoopUtilization().idle - this.idleAtLastEnd;
    // 50 µs: libuv counts a poll that returned at once as a sliver of idle time.
    this.before = slept > 0.05 ? Math.max(0, now - this.lastEnd - slept) / 2 : (now - this.batchStart) / 2;
    this.batchStart = now;
    setImmediate(this.close);
  }
}
