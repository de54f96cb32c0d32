/**
 * HAR import: the entries of an HTTP Archive loaded into the store as
 * exchanges, to view and replay (`POST /api/import`, or a `.har` file dropped
 * on the page). Each entry becomes a record like any other: its events are
 * written as frames by the writer the store records with
 * ({@linkcode ExchangeWriter}, with the store's caps), so the list, the
 * detail, replay, HAR export and the body search read it as they read a
 * recorded one. It is marked imported (`ExchangeSummary.imported`).
 *
 * Two kinds of entry, each read into an exchange's detail by a module of
 * its own ({@linkcode entryDetail} picks which):
 *
 * - one this inspector exported (it has `_timeline`): every field checked,
 *   then its detail rebuilt and every event written again, with its time
 *   (`har_exported_entry.ts`); so HAR export then import gives the same
 *   detail (its id aside, and a replay link, which would name an exchange
 *   of another store);
 * - any other HAR (a browser's, a proxy's): a timeline is made from what HAR
 *   says (`har_foreign_entry.ts`).
 *
 * A HAR file is input from anywhere: every field is checked for its type
 * and range before anything of its entry is written (arrivals from 1970 to
 * the end of 9999, event times within a year of the arrival, status codes
 * from 100 to 999, byte counts whole and at most 2^53 - 1, a
 * `_timeline`'s byte parts back to back and adding up to the entry's
 * `request.bodySize` and `response.content.size`), and an entry that is not
 * what HAR says is skipped with a message naming the entry and the field
 * (`har_fields.ts`); the others are loaded. Bytes past what the file
 * carries are never made up, nor allocated: an exchange truncated in the
 * file keeps its sizes, and only the bytes the file has. Of the bytes it
 * has, only those the store keeps (its `maxBodyBytes` of each stream) are
 * decoded: a body's true size is counted from its text (`har_body.ts`), so a
 * body of hundreds of megabytes costs the store's cap, not its size, and
 * keeps its size.
 *
 * An entry is written whole into a buffer of its own first, then handed to
 * the store ({@linkcode ExchangeStore.importFrames}), so an entry the store
 * cannot hold (a frame over half its memory) is skipped with nothing of it
 * kept. Like recording, an import may evict the oldest exchanges, recorded
 * or imported, to make room, and says how many
 * ({@linkcode ImportResult.evicted}); it never evicts its own entries: those
 * past what the store holds (`maxExchanges`, or its memory) are skipped.
 *
 * **Bounded work.** A file's size is capped (`POST /api/import`), but its
 * entries are not: a file of 256 MiB holds 128 million entries `0`. So the
 * answer lists the first {@linkcode SKIPPED_LISTED} skipped entries and
 * counts the rest (`skippedMore`), an import stops reading once the store is
 * full (the rest are counted, not looked at), and once
 * {@linkcode INVALID_READ} entries were not HAR (the file is not what it
 * says, and the rest is counted as not read). The work is then some
 * `maxExchanges` + {@linkcode INVALID_READ} entries, whatever the count.
 *
 * @module
 */

import { ExchangeWriter, FrameBuffer } from "./capture.ts";
import { detailFromExportedHar } from "./har_exported_entry.ts";
import { EntryError, isObject, obj } from "./har_fields.ts";
import { detailFromForeignHar } from "./har_foreign_entry.ts";
import {
  EVENT_TYPES,
  type ExchangeDetail,
  type ImportResult,
  partOf,
  type WireEvent,
} from "./protocol.ts";
import { align8 } from "./ring.ts";
import type { ExchangeStore } from "./store.ts";

/**
 * An entry's detail: rebuilt from `_timeline`, or made from another tool's
 * HAR; with the first `maxBodyBytes` of each stream (the bytes a store with
 * that cap keeps: the rest is never decoded), and every true size.
 *
 * @throws {EntryError} naming the first field that is not what HAR (or this
 * inspector's `_timeline`) says
 */
export function entryDetail(entry: unknown, maxBodyBytes = Infinity): ExchangeDetail {
  const e = obj(entry, "the entry");
  return e._timeline === undefined
    ? detailFromForeignHar(e, maxBodyBytes)
    : detailFromExportedHar(e, maxBodyBytes);
}

/**
 * The payload of one wire event, for the writer: the bytes of a part are
 * those of its stream the file has (a view, maybe shorter than the part, or
 * empty: never more than the file carries).
 */
function payload(
  event: WireEvent,
  request: Uint8Array,
  response: Uint8Array,
  // deno-lint-ignore no-explicit-any
): any {
  const part = (ref: { stream: string; offset: number; size: number }) => {
    const from = ref.stream === "request" ? request : response;
    const start = Math.min(ref.offset, from.length);
    return from.subarray(start, Math.min(start + ref.size, from.length));
  };
  switch (event.type) {
    case "request": {
      const d = event.data;
      return {
        method: d.method,
        target: d.target,
        version: d.version,
        peer: d.peer ?? undefined,
        headers: d.headers,
      };
    }
    case "input":
      return {
        method: event.data.method,
        size: event.data.size ?? undefined,
        bytes: part(event.data.bytes),
      };
    case "input_rest":
      return { bytes: part(event.data.bytes), complete: event.data.complete };
    case "write":
    case "chunk":
      return { index: event.data.index, bytes: part(event.data.bytes) };
    default:
      return event.data;
  }
}

/** One entry's frames, written before the store gets any, and what they take of its ring. */
interface EncodedEntry {
  frames: Uint8Array;
  /** Bytes of the ring the frames take (each aligned to 8). */
  size: number;
  /** The largest frame's bytes (aligned) and event type. */
  largest: { size: number; type: string };
}

/**
 * Writes an exchange's detail as frames, with the store's caps, into a
 * buffer of its own (the same writer the store records with).
 *
 * @throws {EntryError} when the writer fails
 */
function encodeEntry(store: ExchangeStore, detail: ExchangeDetail): EncodedEntry {
  const events = detail.events;
  const request = Uint8Array.fromBase64(detail.request.body.bytes);
  const response = Uint8Array.fromBase64(detail.response.body.bytes);
  const first = events[0];
  const startedAt = first?.type === "request" ? first.data.startedAt : detail.startedAt;
  let failure: unknown;
  const buffer = new FrameBuffer((error) => failure ??= error, 4096);
  const t0 = startedAt - performance.timeOrigin;
  const writer = new ExchangeWriter(buffer, 1, t0, store.limits);
  if (first?.type === "request") {
    if (first.data.generation !== undefined) writer.generation = first.data.generation;
    if (first.data.ref !== undefined) writer.ref = first.data.ref;
  }
  for (const event of events) {
    const data = payload(event, request, response);
    // The events the file says were dropped, counted again in its end or abort.
    if (event.type === "end" || event.type === "abort") {
      writer.droppedBefore = event.data.dropped_events;
    }
    const part = partOf(event);
    if (part !== undefined) {
      writer.recordPart(
        event.type as "input" | "input_rest" | "write" | "chunk",
        data,
        part.size,
        t0 + event.t,
      );
    } else writer.record(event.type, data, t0 + event.t);
  }
  if (failure !== undefined) {
    throw new EntryError(
      `cannot be written: ${failure instanceof Error ? failure.message : failure}`,
    );
  }
  const frames = buffer.take();
  const view = new DataView(frames.buffer, frames.byteOffset, frames.byteLength);
  let size = 0;
  const largest = { size: 0, type: "" };
  for (let at = 0; at < frames.length;) {
    const length = view.getUint32(at, true);
    const aligned = align8(length);
    size += aligned;
    if (aligned > largest.size) {
      largest.size = aligned;
      largest.type = EVENT_TYPES[frames[at + 4]! - 1] ?? "unknown";
    }
    at += length;
  }
  return { frames, size, largest };
}

/** Refuses an entry with a frame the store's ring cannot hold (over half its memory). */
function checkFrames(store: ExchangeStore, encoded: EncodedEntry): void {
  if (2 * encoded.largest.size > (store.memory & ~7)) {
    throw new EntryError(
      `cannot be kept: its ${encoded.largest.type} event takes ${encoded.largest.size} bytes, more than half of the inspector's memory (${store.memory} bytes); raise --inspector-memory`,
    );
  }
}

/** Skipped entries the answer lists, each with why; the rest are counted (`skippedMore`). */
export const SKIPPED_LISTED = 100;

/** Entries that are not what HAR says after which an import reads no more of the file. */
export const INVALID_READ = 1000;

/**
 * Loads a HAR document's entries into the store, oldest first as the file
 * lists them: as many as the store holds with one another (the rest are
 * skipped, saying so), evicting the oldest exchanges kept before if need be.
 *
 * @throws {TypeError} when `har` is not a HAR document (no `log.entries`)
 */
export function importHar(store: ExchangeStore, har: unknown): ImportResult {
  const entries = isObject(har) && isObject(har.log) && Array.isArray(har.log.entries)
    ? har.log.entries as unknown[]
    : undefined;
  if (entries === undefined) {
    throw new TypeError(
      "Cannot import: the file is not a HAR document (no log.entries); export one from a browser's network panel or from this inspector",
    );
  }
  const before = store.origins();
  const budget = store.memory & ~7;
  const loaded: string[] = [];
  const skipped: ImportResult["skipped"] = [];
  let skippedMore = 0;
  const skip = (entry: number, error: string) => {
    if (skipped.length < SKIPPED_LISTED) skipped.push({ entry, error });
    else skippedMore++;
  };
  /** Skips the entries from `from` on, unread, for `why`: the first listed, the rest counted. */
  const skipRest = (from: number, why: string) => {
    const listed = Math.min(entries.length, from + SKIPPED_LISTED - skipped.length);
    for (let i = from; i < listed; i++) skipped.push({ entry: i, error: `Entry ${i}: ${why}` });
    skippedMore += entries.length - Math.max(from, listed);
  };
  // Ring bytes this file's entries take, and its largest frame: a lap's end
  // may pad away up to a frame's bytes, so they all stay kept while the two
  // together fit the budget.
  let used = 0;
  let largest = 0;
  let invalid = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (loaded.length === store.maxExchanges) {
      skipRest(
        i,
        `not loaded: the store keeps at most ${store.maxExchanges} exchanges (--max-exchanges), and this file's entries before it fill it; raise --max-exchanges or split the file`,
      );
      break;
    }
    if (invalid === INVALID_READ) {
      skipRest(
        i,
        `not read: ${INVALID_READ} of this file's entries before it are not what HAR says, so the rest was not read; fix the file, or split it`,
      );
      break;
    }
    let encoded: EncodedEntry;
    try {
      encoded = encodeEntry(store, entryDetail(entry, store.maxBodyBytes));
      checkFrames(store, encoded);
      if (encoded.size + encoded.largest.size > budget) {
        throw new EntryError(
          `cannot be kept: its events take ${encoded.size} bytes, more than the inspector's memory holds (${store.memory} bytes); raise --inspector-memory`,
        );
      }
    } catch (error) {
      // Whatever went wrong, it is this entry's: the others are still loaded.
      const message = error instanceof EntryError
        ? error.message
        : `could not be read (${error instanceof Error ? error.message : String(error)})`;
      skip(i, `Entry ${i}: ${message}`);
      invalid++;
      continue;
    }
    if (used + encoded.size + Math.max(largest, encoded.largest.size) > budget) {
      skipRest(
        i,
        `not loaded: the inspector's memory (${store.memory} bytes, --inspector-memory) is full with this file's entries before it; raise --inspector-memory or split the file`,
      );
      break;
    }
    used += encoded.size;
    largest = Math.max(largest, encoded.largest.size);
    loaded.push(String(store.importFrames(encoded.frames)));
  }
  const after = store.origins();
  return {
    ids: loaded.filter((id) => store.get(id) !== undefined),
    skipped,
    ...(skippedMore > 0 ? { skippedMore } : {}),
    evicted: {
      recorded: before.recorded - after.recorded,
      imported: before.imported + loaded.length - after.imported,
    },
  };
}
