/**
 * The recorder of an app process under the CLI's dev loop: the module named
 * by the inspector's `appRecording.module`, which each app process
 * (`server/dev/child.ts`) loads by its URL, so that `server/` never imports
 * the inspector (see `server/dev/contract.ts`).
 *
 * Each exchange's events become frames of the record format
 * (`docs/record.md`), written by the same {@linkcode ExchangeWriter} as in
 * the inspector's own process, with the caps the inspector's store asked for;
 * each frame is handed to `send` as soon as it is written (the app process
 * batches them on its channel), and the supervisor's store takes the frames
 * as they are (`ExchangeStore.intake`). The request frame names the app
 * generation and the exchange's reference (`generation.worker.id`). The
 * app process holds new requests back while the supervisor is behind
 * (`server/dev/child.ts`); should it still be too far behind (`congested`:
 * a stuck supervisor), new exchanges are left unrecorded, and counted; an
 * exchange begun is always recorded whole.
 *
 * This module loads only the record format's writer: it is imported while an
 * app process starts.
 *
 * @example
 * ```ts
 * import { createAppRecorder } from "./app_recorder.ts";
 * import { ExchangeStore } from "./store.ts";
 * import { toFetch } from "../server/gateway.ts";
 *
 * const store = new ExchangeStore();
 * const intake = store.intake();
 * const recorder = createAppRecorder({
 *   settings: { module: import.meta.url, maxBodyBytes: 1024, maxEvents: 100, maxText: 1024 },
 *   generation: 3,
 *   worker: 1,
 *   send: (frame) => intake.ingest(frame),
 *   congested: () => false,
 * });
 * const handler = toFetch((_environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("hi")];
 * }, { recorder });
 * await (await handler(new Request("http://localhost/x"))).text();
 * const [summary] = store.list().exchanges;
 * console.assert(summary?.generation === 3 && summary.ref === "3.1.1");
 * ```
 *
 * @module
 */

import type { AppRecorder, AppRecorderOptions, EventMap, EventType } from "../server/recorder.ts";
import { type CaptureLimits, ExchangeWriter, FrameBuffer } from "./capture.ts";
import { TYPE_CODE } from "./record_format.ts";

/**
 * Where an environ keeps its exchange's reference, for the debug page's link:
 * a symbol, which `for...in` and `Object.keys` skip, so neither the
 * application nor the recorded environ sees it.
 */
const REF: unique symbol = Symbol("wsgi.exchange_ref");

/** A frame buffer that hands each frame to `send` as soon as it is written, and starts again. */
class SendingBuffer extends FrameBuffer {
  readonly #send: (frame: Uint8Array, urgent: boolean) => void;

  constructor(send: (frame: Uint8Array, urgent: boolean) => void) {
    super(undefined, 16 * 1024);
    this.#send = send;
  }

  override commit(_id?: number, code?: number): boolean {
    const enc = this.encoder;
    const frame = enc.buf.subarray(0, enc.pos);
    enc.pos = 0;
    enc.start = 0;
    this.#send(frame, code === TYPE_CODE.call);
    return true;
  }
}

/** One exchange of the app process: its writer, which also tags the environ and leaves the open set. */
class AppExchange extends ExchangeWriter {
  readonly #owner: AppFrameRecorder;

  constructor(owner: AppFrameRecorder, sink: SendingBuffer, id: number, t0: number) {
    super(sink, id, t0, owner.limits);
    this.#owner = owner;
  }

  override record<K extends EventType>(type: K, data: EventMap[K], time?: number): void {
    if (type === "environ") {
      ((data as EventMap["environ"]).environ as { [REF]?: string })[REF] = this.ref;
    }
    super.record(type, data, time);
    if (type === "end" || type === "abort") this.#owner.open.delete(this);
  }
}

/** The {@linkcode AppRecorder} of `createAppRecorder`. */
class AppFrameRecorder implements AppRecorder {
  readonly limits: CaptureLimits;
  /** Exchanges begun and not ended: a fault with one open can be put on it. */
  readonly open = new Set<AppExchange>();
  readonly #buffer: SendingBuffer;
  readonly #congested: () => boolean;
  readonly #generation: number;
  readonly #prefix: string;
  #id = 0;
  skipped = 0;

  constructor(options: AppRecorderOptions) {
    const s = options.settings;
    this.limits = { maxBodyBytes: s.maxBodyBytes, maxEvents: s.maxEvents, maxText: s.maxText };
    this.#buffer = new SendingBuffer(options.send);
    this.#buffer.derivesEnviron = s.deriveEnviron === true;
    this.#congested = options.congested;
    this.#generation = options.generation;
    this.#prefix = `${options.generation}.${options.worker}.`;
  }

  begin(_request: Request, time?: number): ExchangeWriter | undefined {
    if (this.#congested()) {
      this.skipped++;
      return undefined;
    }
    this.#id = (this.#id + 1) >>> 0 || 1;
    const exchange = new AppExchange(this, this.#buffer, this.#id, time ?? performance.now());
    exchange.generation = this.#generation;
    exchange.ref = this.#prefix + this.#id;
    this.open.add(exchange);
    return exchange;
  }

  refOf(environ: object): string | undefined {
    return (environ as { [REF]?: string })[REF];
  }

  faultOnOpen(error: { name: string; message: string; stack?: string }): string | undefined {
    if (this.open.size !== 1) return undefined;
    const [exchange] = this.open;
    exchange!.record("error", {
      where: "application",
      name: error.name,
      message: error.message,
      stack: error.stack,
    });
    return exchange!.ref;
  }
}

/**
 * Makes an app process's recorder (`server/recorder.ts`'s
 * `CreateAppRecorder`): frames of each exchange, handed to `options.send`.
 */
export function createAppRecorder(options: AppRecorderOptions): AppRecorder {
  return new AppFrameRecorder(options);
}
