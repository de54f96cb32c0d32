/**
 * The byte ring the store keeps its frames in: frames appended at an
 * ever-growing logical position, the oldest overwritten first, within a
 * memory budget.
 *
 * A logical position `p` lives at `p % capacity`. Frames start at multiples
 * of 8. A frame never straddles the end: one that does not fit in what is
 * left of a lap is moved to the next lap's start, and the rest of the lap
 * becomes padding (a frame of type `PAD` whose length runs to the lap's end).
 * So every lap is exactly `capacity` bytes, and a frame may take at most half
 * the budget.
 *
 * The ring starts small and doubles, up to the budget, rather than overwrite
 * records its owner still wants: a store that keeps 1000 small exchanges
 * needs a megabyte or two, and a small ring stays in the processor's caches
 * (writing through a mostly cold 64 MiB ring cost a third more per exchange).
 * At the budget, before the encoder may write over bytes of the previous lap,
 * the ring asks the owner to evict its oldest records until the bytes are
 * free ({@linkcode RingOwner}).
 *
 * @module
 */

import { FrameEncoder, type FrameSink } from "./record.ts";
import { PAD } from "./record_format.ts";

/** What the ring needs from the store that owns its records. */
export interface RingOwner {
  /** The logical position where the oldest kept record begins; `Infinity` when none is kept. */
  oldestStart(): number;
  /** Drops the oldest kept record. */
  evictOldest(): void;
}

/** The first capacity of a ring (or its budget, if smaller). */
const FIRST_CAPACITY = 1024 * 1024;

/** Rounds up to a multiple of 8. */
export const align8 = (n: number): number => (n + 7) & ~7;

/** A ring of frames (see the module doc). */
export class FrameRing implements FrameSink {
  /** The most bytes the ring may take (a multiple of 8). */
  readonly budget: number;
  /** Bytes of the ring now. */
  capacity: number;
  buf: Uint8Array;
  view: DataView;
  /** Writes frames into the ring (its `pos` is the physical write position). */
  readonly encoder: FrameEncoder;
  /** The logical position of physical 0 of the current lap (a multiple of `capacity`). */
  base = 0;
  readonly #owner: RingOwner;

  constructor(budget: number, owner: RingOwner) {
    this.budget = budget & ~7;
    this.capacity = Math.min(this.budget, FIRST_CAPACITY);
    this.buf = new Uint8Array(this.capacity);
    this.view = new DataView(this.buf.buffer);
    this.encoder = new FrameEncoder(this, this.buf, 8);
    this.encoder.limit = this.capacity;
    this.#owner = owner;
  }

  /** The logical position of the next frame. */
  get head(): number {
    return this.base + this.encoder.pos;
  }

  /** The logical position below which every byte has been overwritten. */
  get tail(): number {
    return Math.max(0, this.head - this.capacity);
  }

  /**
   * Makes room for `need` more bytes of the frame being written: grows the
   * ring, or moves the frame to the next lap when it would cross the end, and
   * at the budget evicts the owner's oldest records until the bytes to be
   * written are theirs no longer.
   *
   * @throws {RangeError} when the frame would take more than half the budget
   */
  more(enc: FrameEncoder, need: number): void {
    const length = enc.pos - enc.start;
    if (2 * align8(length + need) > this.budget) {
      throw new RangeError(
        `Cannot record a frame of ${
          length + need
        } bytes: a frame may take at most half of the inspector's memory (${this.budget} bytes); raise --inspector-memory`,
      );
    }
    const owner = this.#owner;
    for (;;) {
      const capacity = this.capacity;
      const total = align8(enc.pos - enc.start + need);
      if (enc.start + total > capacity) {
        // Next lap: the frame moves to its start, over the previous lap's first bytes.
        if (owner.oldestStart() < this.base + total && this.#grow(enc)) continue;
        while (owner.oldestStart() < this.base + total) owner.evictOldest();
        this.#wrap(enc);
        continue;
      }
      const oldest = owner.oldestStart();
      const limit = oldest === Infinity
        ? capacity
        : Math.min(capacity, oldest + capacity - this.base);
      if (enc.pos + need <= limit) {
        enc.limit = limit;
        return;
      }
      if (!this.#grow(enc)) owner.evictOldest();
    }
  }

  /** Moves the frame begun to the next lap's start, padding the rest of this one. */
  #wrap(enc: FrameEncoder): void {
    const from = enc.start;
    const length = enc.pos - from;
    this.buf.copyWithin(0, from, enc.pos);
    this.#pad(from, this.capacity);
    this.base += this.capacity;
    enc.start = 0;
    enc.pos = length;
  }

  /** Marks `[from, to)` (physical, 8 bytes or more) as padding. */
  #pad(from: number, to: number): void {
    if (to <= from) return;
    this.view.setUint32(from, to - from, true);
    this.buf[from + 4] = PAD;
  }

  /**
   * Doubles the ring (up to the budget), keeping every live byte at its
   * logical position; the frame being written goes to the start of the next
   * lap if it would straddle the new end. Returns false at the budget.
   */
  #grow(enc: FrameEncoder): boolean {
    if (this.capacity >= this.budget) return false;
    const old = this.buf;
    const oldCapacity = this.capacity;
    const capacity = Math.min(this.budget, oldCapacity * 2);
    const buf = new Uint8Array(capacity);
    const start = this.base + enc.start;
    const length = enc.pos - enc.start;
    const oldest = this.#owner.oldestStart();
    // Every committed byte from the oldest record on, at its logical place.
    for (let p = Math.min(oldest, start); p < start;) {
      const from = p % oldCapacity;
      const to = p % capacity;
      const n = Math.min(start - p, oldCapacity - from, capacity - to);
      buf.set(old.subarray(from, from + n), to);
      p += n;
    }
    this.capacity = capacity;
    this.buf = buf;
    this.view = new DataView(buf.buffer);
    enc.buf = buf;
    enc.view = this.view;
    let at = start % capacity;
    this.base = start - at;
    if (at + length > capacity) {
      this.#pad(at, capacity);
      this.base += capacity;
      at = 0;
    }
    buf.set(old.subarray(enc.start, enc.start + length), at);
    enc.start = at;
    enc.pos = at + length;
    enc.limit = at; // recomputed by more()
    // Frees the old bytes now (detached, nothing refers to them), not when the
    // collector gets to them: growing to a 64 MiB budget otherwise left the
    // 32 MiB ring before it resident beside the new one for seconds.
    (old.buffer as ArrayBuffer).transfer(0);
    return true;
  }

  /** The physical position of a logical one that is still in the ring. */
  at(logical: number): number {
    return logical % this.capacity;
  }

  /**
   * Calls `fn` with the physical position of each frame (padding skipped)
   * whose logical start is in `[from, to]`; `from` must be a frame's start.
   */
  walk(from: number, to: number, fn: (at: number) => void): void {
    const capacity = this.capacity;
    const view = this.view;
    let p = from;
    while (p <= to) {
      const at = p % capacity;
      const length = view.getUint32(at, true);
      if (length < 8) break; // never written: nothing further is either
      if (this.buf[at + 4] !== PAD) fn(at);
      p += align8(length);
    }
  }

  /**
   * Copies a whole frame in (one written elsewhere, e.g. by another process).
   *
   * @returns the physical position it was copied to
   */
  append(frame: Uint8Array): number {
    const enc = this.encoder;
    enc.start = enc.pos;
    enc.need(align8(frame.length));
    const at = enc.pos;
    this.buf.set(frame, at);
    enc.pos = at + frame.length;
    enc.end();
    return at;
  }
}
