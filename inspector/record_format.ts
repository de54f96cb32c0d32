/**
 * The record format's constants and tables (version 1, specified in
 * `docs/record.md`): the frame header's layout, the type codes of events,
 * their flag bits, the tags of environ values and the table of environ keys.
 * The writer (`record.ts`) and the reader (`record_read.ts`) both build on
 * them.
 *
 * @module
 */

import type { EventType, InputMethod } from "./protocol.ts";
import { EVENT_TYPES } from "./protocol.ts";

/** The version of the format, in every frame's header. */
export const FORMAT_VERSION = 1;
/** Bytes of a frame's header. */
export const HEADER_SIZE = 20;
/** The type code of padding (never an event; the store's ring uses it to skip to its start). */
export const PAD = 0;
/** Set in a string's length when its bytes are UTF-8 (else latin-1). */
export const UTF8_FLAG = 0x80000000;
/** The longest string a frame can hold, in bytes. */
export const MAX_STRING = 0x7fffffff;

/** The type code of each event type: its place in `EVENT_TYPES`, from 1. */
export const TYPE_CODE: Readonly<Record<EventType, number>> = {
  request: 1,
  environ: 2,
  call: 3,
  input: 4,
  start_response: 5,
  write: 6,
  chunk: 7,
  headers_sent: 8,
  errors: 9,
  error: 10,
  lint: 11,
  close: 12,
  end: 13,
  abort: 14,
  input_rest: 15,
};
for (const [i, type] of EVENT_TYPES.entries()) {
  if (TYPE_CODE[type] !== i + 1) throw new Error(`TYPE_CODE of ${type} is not ${i + 1}`);
}

/** Flag bits, by event type (see `docs/record.md`). */
export const FLAG = {
  /** `request`: the peer is known. */
  PEER: 1,
  /** `request`: the app generation that served it follows (under the CLI). */
  GENERATION: 2,
  /** `request`: the app process's name for the exchange follows (under the CLI). */
  REF: 4,
  /** `start_response`: `exc_info` was passed. */
  EXC_INFO: 1,
  /** `start_response`: the call broke a rule (the error follows). */
  ERROR: 2,
  /** `error`: a stack follows. */
  STACK: 1,
  /** `close`: the iterable had a `close()`. */
  CALLED: 1,
  /** `input_rest`: the body's end was reached. */
  COMPLETE: 1,
  /** `errors`: the text was cut at the cap. */
  CUT: 1,
  /** `environ`: its derivation, not its entries (see `docs/record.md`, "A derived environ"). */
  DERIVED: 1,
} as const;

/** The bits of a derived environ's first byte: what follows, and two booleans. */
export const DERIVED = {
  SERVER_NAME: 1,
  SERVER_PORT: 2,
  URL_SCHEME: 4,
  MULTIPROCESS: 8,
  DROPPED: 16,
} as const;

export const INPUT_METHODS: readonly InputMethod[] = ["read", "readline", "readlines", "iterate"];
export const INPUT_CODE: Readonly<Record<InputMethod, number>> = {
  read: 0,
  readline: 1,
  readlines: 2,
  iterate: 3,
};

/** Tags of environ values. */
export const TAG = {
  STRING: 0,
  NUMBER: 1,
  TRUE: 2,
  FALSE: 3,
  NULL: 4,
  ARRAY: 5,
  DESCRIBED: 6,
} as const;

/**
 * Environ keys written as one byte (their place in this list, from 1): the
 * keys of PEP 3333 and of common request headers. Part of format version 1:
 * entries are only ever appended, and a reader that finds a code past its
 * list's end refuses the frame.
 */
export const ENVIRON_KEYS: readonly string[] = [
  "REQUEST_METHOD",
  "SCRIPT_NAME",
  "PATH_INFO",
  "QUERY_STRING",
  "CONTENT_TYPE",
  "CONTENT_LENGTH",
  "SERVER_NAME",
  "SERVER_PORT",
  "SERVER_PROTOCOL",
  "SERVER_SOFTWARE",
  "GATEWAY_INTERFACE",
  "REMOTE_ADDR",
  "REMOTE_PORT",
  "REMOTE_HOST",
  "REMOTE_USER",
  "AUTH_TYPE",
  "RAW_URI",
  "REQUEST_URI",
  "wsgi.version",
  "wsgi.url_scheme",
  "wsgi.input",
  "wsgi.errors",
  "wsgi.multithread",
  "wsgi.multiprocess",
  "wsgi.run_once",
  "wsgi.input_terminated",
  "wsgi.file_wrapper",
  "HTTP_HOST",
  "HTTP_USER_AGENT",
  "HTTP_ACCEPT",
  "HTTP_ACCEPT_LANGUAGE",
  "HTTP_ACCEPT_ENCODING",
  "HTTP_CONNECTION",
  "HTTP_COOKIE",
  "HTTP_REFERER",
  "HTTP_ORIGIN",
  "HTTP_CACHE_CONTROL",
  "HTTP_PRAGMA",
  "HTTP_UPGRADE_INSECURE_REQUESTS",
  "HTTP_SEC_FETCH_DEST",
  "HTTP_SEC_FETCH_MODE",
  "HTTP_SEC_FETCH_SITE",
  "HTTP_SEC_FETCH_USER",
  "HTTP_SEC_CH_UA",
  "HTTP_SEC_CH_UA_MOBILE",
  "HTTP_SEC_CH_UA_PLATFORM",
  "HTTP_DNT",
  "HTTP_IF_NONE_MATCH",
  "HTTP_IF_MODIFIED_SINCE",
  "HTTP_AUTHORIZATION",
  "HTTP_X_FORWARDED_FOR",
  "HTTP_X_FORWARDED_PROTO",
  "HTTP_X_FORWARDED_HOST",
  "HTTP_X_REQUESTED_WITH",
  "HTTP_PRIORITY",
  "HTTP_TE",
  "HTTP_CONTENT_TYPE",
  "HTTP_CONTENT_LENGTH",
];
export const KEY_CODE = new Map(ENVIRON_KEYS.map((key, i) => [key, i + 1]));

/** Offsets, in a frame, of the fields the store's index reads without decoding. */
export const AT = {
  /** `request`: the arrival, epoch ms (`f64`). */
  startedAt: HEADER_SIZE,
  /** `input`: the byte field (after the method code and the size). */
  inputBytes: HEADER_SIZE + 9,
  /** `input_rest`: the byte field. */
  restBytes: HEADER_SIZE,
  /** `write`/`chunk`: the byte field (after the index). */
  chunkBytes: HEADER_SIZE + 4,
  /** `headers_sent`: the status (`u16`). */
  sentStatus: HEADER_SIZE,
  /** `end`: the status (`u16`), then bytes (`f64`), then dropped events (`u32`). */
  endStatus: HEADER_SIZE,
  /** `errors`: the true size (`f64`), then the kept text. */
  errorsSize: HEADER_SIZE,
} as const;
