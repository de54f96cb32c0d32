/**
 * Deadlines for exchanges that went asynchronous: the gateway's `timeout`
 * option (`--timeout` under the CLI).
 *
 * Only an exchange whose application returned without a complete answer is
 * watched (a Promise of a body, a streamed body, an async `close()`): the
 * synchronous fast path is done before anyone could watch it, and so costs
 * nothing. One timer per handler scans the watched exchanges a few times a
 * second, and runs only while there are any (so it keeps a process alive only
 * while an answer is owed).
 *
 * What a late exchange gets is up to the gateway (the `expire` function
 * given to {@linkcode Deadlines}): a `504` while nothing was sent, a cut
 * connection after. A CPU-bound loop never lets the timer run: only
 * another process can stop that one. The CLI's supervisor does
 * (`server/dev/watchdog.ts`), and answers the `504` itself on the client's
 * socket, taken from the stopped process (`server/dev/stuck_clients.ts`).
 *
 * @module
 */

/** An exchange that can be timed out. */
export interface Expirable {
  /** Arrival, a `performance.now()` reading. */
  readonly started: number;
}

/**
 * Called once an exchange's deadline passed: returns the response to answer
 * with (a 504) when none went out yet, or `undefined` after cutting what did.
 */
export type Expire<T extends Expirable> = (exchange: T, ms: number) => Response | undefined;

/** The watched exchanges of one handler, and the timer that expires them. */
export class Deadlines<T extends Expirable> {
  readonly #ms: number;
  readonly #expire: Expire<T>;
  readonly #watched = new Map<T, (response: Response) => void>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param ms how long an exchange may run, in milliseconds (more than 0)
   * @param expire what a late exchange gets
   */
  constructor(ms: number, expire: Expire<T>) {
    if (!(ms > 0) || !Number.isFinite(ms)) {
      throw new RangeError(`Cannot set a timeout: it must be a positive number of ms (got ${ms})`);
    }
    this.#ms = ms;
    this.#expire = expire;
  }

  /** Milliseconds an exchange may run. */
  get ms(): number {
    return this.#ms;
  }

  /**
   * Watches an exchange whose response is not ready yet: the returned
   * Promise settles with `response`, or with the exchange's 504 if the
   * deadline comes first. The exchange stays watched (for a cut) until
   * {@linkcode Deadlines.forget} says it finished.
   */
  watch(exchange: T, response: Promise<Response>): Promise<Response> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const answer = (r: Response) => {
        if (settled) return;
        settled = true;
        resolve(r);
      };
      this.#watched.set(exchange, answer);
      this.#arm();
      response.then(answer, (error) => {
        this.forget(exchange);
        if (!settled) reject(error);
      });
    });
  }

  /** Stops watching an exchange (it finished). */
  forget(exchange: T): void {
    if (!this.#watched.delete(exchange) || this.#watched.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** How many exchanges are watched. */
  get size(): number {
    return this.#watched.size;
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    const every = Math.min(250, Math.max(10, this.#ms / 4));
    this.#timer = setInterval(() => this.#scan(), every);
  }

  #scan(): void {
    const now = performance.now();
    for (const [exchange, answer] of this.#watched) {
      if (now - exchange.started < this.#ms) continue;
      this.forget(exchange);
      let response: Response | undefined;
      try {
        response = this.#expire(exchange, this.#ms);
      } catch {
        response = new Response("504 Gateway Timeout\n", { status: 504 });
      }
      if (response) answer(response);
    }
  }
}
