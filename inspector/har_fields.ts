/**
 * The field checkers of HAR import: each takes a value read from a HAR file
 * and the path of its field (`request.headers[2].value`), and returns the
 * value when it is of the type and range the field must have, or throws an
 * {@linkcode EntryError} whose message names the field, what it must be, and
 * (the start of) what it is. The ranges are those a HAR file may carry and
 * the store can hold: arrivals from 1970 to the end of 9999, event times
 * within a year of the arrival, status codes from 100 to 999, byte counts
 * whole and at most 2^53 - 1.
 *
 * Apart from `har_import.ts` because both kinds of entry it reads use them:
 * one this inspector exported (`har_exported_entry.ts`) and one of another
 * tool (`har_foreign_entry.ts`).
 *
 * @module
 */

/**
 * Why an entry is skipped, said after `Entry N: `: a value that is not what
 * HAR (or this inspector's `_timeline`) says, with where, or an entry the
 * store cannot hold.
 */
export class EntryError extends Error {}

/** Whether `v` is a plain object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** How much of a refused value a message quotes: 60 characters of its JSON (57 and "..."). */
const SHOWN = 60;

/**
 * The start of `value`'s JSON, past `SHOWN` characters when it is longer:
 * `JSON.stringify` of the value as far as that, and no further. A refused
 * value may be most of a file of 256 MiB, or an array nested millions
 * deep, whose whole JSON took `JSON.stringify` a time that grows faster
 * than its depth (5 million deep: 12 s), on the inspector's thread.
 */
function jsonStart(value: unknown): string | undefined {
  let out = "";
  /** Appends `v`'s JSON; false once `out` is past `SHOWN` (the rest is never read). */
  const write = (v: unknown, inArray: boolean): boolean => {
    if (out.length > SHOWN) return false;
    if (typeof v === "string") out += JSON.stringify(v.slice(0, SHOWN + 1));
    else if (Array.isArray(v)) {
      out += "[";
      for (let i = 0; i < v.length; i++) {
        if (i > 0) out += ",";
        if (!write(v[i], true)) return false;
      }
      out += "]";
    } else if (typeof v === "object" && v !== null) {
      out += "{";
      let first = true;
      for (const key in v) {
        if (!Object.hasOwn(v, key)) continue;
        const item = (v as Record<string, unknown>)[key];
        if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
        out += `${first ? "" : ","}${JSON.stringify(key.slice(0, SHOWN + 1))}:`;
        first = false;
        if (out.length > SHOWN || !write(item, false)) return false;
      }
      out += "}";
    } else {
      const text = JSON.stringify(v);
      out += text === undefined ? (inArray ? "null" : "") : text;
    }
    return out.length <= SHOWN;
  };
  if (value === undefined || typeof value === "function" || typeof value === "symbol") {
    return undefined;
  }
  write(value, false);
  return out;
}

/** Throws the message that `where` must be `what`, quoting (the start of) what it is. */
export function refuse(where: string, what: string, got: unknown): never {
  // Only the start is made: a HAR text may be megabytes, a value nested millions deep.
  const shown = jsonStart(got);
  throw new EntryError(
    `${where} must be ${what} (got ${
      shown === undefined
        ? String(got)
        : shown.length > SHOWN
        ? shown.slice(0, SHOWN - 3) + "..."
        : shown
    })`,
  );
}

/** Throws the message that `where` must be `what` unless `ok`. */
export function want(ok: boolean, where: string, what: string, got: unknown): void {
  if (!ok) refuse(where, what, got);
}

/** The largest byte count or offset: past it, a number loses its last digits. */
export const MAX_BYTES = Number.MAX_SAFE_INTEGER;
/** The largest count the record format holds in a `u32` (event index, dropped events, generation). */
export const MAX_U32 = 2 ** 32 - 1;
/** How far from its arrival an event may be: a year, in ms. */
export const MAX_MS = 365 * 24 * 60 * 60 * 1000;
/** The latest arrival: the end of the year 9999 (HAR's dates have four-digit years). */
export const MAX_DATE = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A string. */
export const str = (v: unknown, where: string): string => {
  want(typeof v === "string", where, "a string", v);
  return v as string;
};
/** A finite number. */
export const num = (v: unknown, where: string): number => {
  want(typeof v === "number" && Number.isFinite(v), where, "a finite number", v);
  return v as number;
};
/** A whole number from 0 to `max`. */
export const whole = (v: unknown, where: string, max = MAX_BYTES): number => {
  const n = num(v, where);
  want(Number.isInteger(n) && n >= 0 && n <= max, where, `a whole number from 0 to ${max}`, n);
  return n;
};
/** An arrival, epoch ms, that a `Date` holds and HAR writes with a four-digit year. */
export const date = (v: unknown, where: string): number => {
  const n = num(v, where);
  want(n >= 0 && n <= MAX_DATE, where, "a time from 1970 to the end of 9999, in ms since 1970", n);
  return n;
};
/** A time from an exchange's arrival, in ms. */
export const since = (v: unknown, where: string): number => {
  const n = num(v, where);
  want(Math.abs(n) <= MAX_MS, where, "a time from the arrival in ms, at most a year either way", n);
  return n;
};
/** A status code (three digits), or 0 where `zero` says what 0 means. */
export const statusCode = (v: unknown, where: string, zero?: string): number => {
  const n = num(v, where);
  want(
    (Number.isInteger(n) && n >= 100 && n <= 999) || (zero !== undefined && n === 0),
    where,
    zero === undefined
      ? "a status code from 100 to 999"
      : `0 (${zero}) or a status code from 100 to 999`,
    n,
  );
  return n;
};
/** `true` or `false`. */
export const bool = (v: unknown, where: string): boolean => {
  want(typeof v === "boolean", where, "true or false", v);
  return v as boolean;
};
/** An object (not null, not an array), for its fields to be read. */
export const obj = (v: unknown, where: string): Record<string, unknown> => {
  want(isObject(v), where, "an object", v);
  return v as Record<string, unknown>;
};
/** An array. */
export const arr = (v: unknown, where: string): unknown[] => {
  want(Array.isArray(v), where, "an array", v);
  return v as unknown[];
};
