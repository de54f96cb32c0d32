/**
 * The record format: one frame of bytes per timeline event, self-contained, so
 * that one process can write an exchange's events and another read them.
 * The format is specified in `docs/record.md`. This module is its one entry
 * point, re-exporting the files of its parts: {@linkcode FrameEncoder}, which
 * writes frames (`record_encoder.ts`); the payload writers, the fixed fields
 * of each event type (`record_write.ts`, and the environ's,
 * `record_environ.ts`); the constants and tables
 * (`record_format.ts`); the reader, {@linkcode decodeFrame} and
 * {@linkcode FrameSplitter} (`record_read.ts`).
 *
 * In short: little-endian; a 20-byte header (`u32` length of the whole frame,
 * `u8` type code, `u8` flags, `u16` format version, `u32` exchange id, `f64`
 * milliseconds since the exchange's arrival), then the payload in a fixed
 * order per type. Protocol strings (method, target, headers, environ values)
 * are written as latin-1 when they fit, which they almost always do (they are
 * bytes-as-latin-1 already), else as UTF-8; a flag in their length says
 * which.
 *
 * The encoder writes straight into its sink's buffer (the store's ring, or a
 * buffer bound for a pipe): no intermediate buffer and no allocation per
 * frame. When a write does not fit before `limit`, it asks the sink for room,
 * and the sink may move the frame begun so far (to the ring's start, or into
 * a bigger buffer): positions kept across a write must be relative to
 * `start`.
 *
 * @module
 */

export {
  AT,
  ENVIRON_KEYS,
  FLAG,
  FORMAT_VERSION,
  HEADER_SIZE,
  PAD,
  TYPE_CODE,
} from "./record_format.ts";
export {
  type DecodedFrame,
  decodeFrame,
  frameHead,
  FrameSplitter,
  latin1,
  requestGeneration,
} from "./record_read.ts";
export { FrameEncoder, type FrameSink } from "./record_encoder.ts";
export {
  cut,
  describe,
  writeCall,
  writeError,
  writeHeadersSent,
  writeInput,
  writeRequest,
  writeStartResponse,
} from "./record_write.ts";
export { writeDerivedEnviron, writeEnviron } from "./record_environ.ts";
