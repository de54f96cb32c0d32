/**
 * The recording side of the seam: an exchange whose every step becomes an
 * event of `./recorder.ts` for its {@linkcode ExchangeRecorder}. It
 * overrides the no-op hooks of {@linkcode Exchange} (`./exchange.ts`), as
 * wsgiref's handler subclasses override hooks, so that an unrecorded
 * exchange carries no recording branch at all.
 *
 * @module
 */

import type {
  EnvironDerivation,
  ErrorSite,
  EventMap,
  EventType,
  ExchangeRecorder,
} from "./recorder.ts";
import { deriveEnviron } from "./environ_rule.ts";
import type { InputOptions } from "./input.ts";
import { describeForLog, Errors, type LogEntry } from "./log.ts";
import { ProtocolError } from "./rules.ts";
import { LINT_KEY, type LintReporter } from "./lint.ts";
import { Exchange, NONE, type Shared } from "./exchange.ts";
import type { HandlerInfo, TextSink } from "./gateway_options.ts";

/** The `environ` event's derivation, refilled for every exchange. */
const DERIVATION: EnvironDerivation = {
  rule: deriveEnviron,
  url: "",
  serverName: undefined,
  serverPort: undefined,
  urlScheme: undefined,
  multiprocess: false,
  dropped: false,
  inputLeft: 0,
};

/**
 * The payload of each event, one object per event type reused for every
 * event of that type: a recorder copies what it keeps before `record()`
 * returns (`server/recorder.ts`), so one object serves them all, and a
 * recorded exchange allocates none per event.
 */
const PAYLOAD: { readonly [K in EventType]: EventMap[K] } = {
  request: { method: "", target: "", version: "HTTP/1.1", peer: undefined, headers: NONE },
  environ: { environ: {}, derivation: DERIVATION },
  call: { app: "" },
  input: { method: "read", size: undefined, bytes: new Uint8Array(0) },
  start_response: { status: "", headers: NONE, exc_info: false, error: undefined },
  write: { index: 0, bytes: new Uint8Array(0) },
  chunk: { index: 0, bytes: new Uint8Array(0) },
  headers_sent: { status: 0, status_line: "", headers: NONE },
  errors: { text: "" },
  error: { where: "gateway", name: "", message: "", stack: undefined },
  lint: { rule: "", message: "" },
  close: { called: false },
  end: { status: 0, bytes: 0 },
  abort: { reason: "", bytes: 0 },
  input_rest: { bytes: new Uint8Array(0), complete: false },
};

/**
 * The header pairs of the `request` event: one array for every recorded
 * exchange, filled by `buildEnviron` and read by the recorder at once (it
 * copies what it keeps), so that recording allocates none per header.
 */
const REQUEST_HEADERS: [string, string][] = [];

/**
 * `wsgi.errors` of a recorded exchange: stderr, and an `errors` event for
 * each text. It is the exchange's lint reporter too (`./lint.ts`): the one
 * object of its own the exchange hands to the application, so the seam for
 * `lint` events costs no closure.
 */
class RecordedErrors extends Errors implements LintReporter {
  readonly #exchange: RecordedExchange;

  constructor(sink: TextSink, exchange: RecordedExchange) {
    super(sink);
    this.#exchange = exchange;
  }

  override write(text: string): void {
    super.write(text);
    this.#exchange.onErrorsText(text);
  }

  /** Reports a broken rule as a `lint` event of the exchange ({@linkcode LintReporter}). */
  report(rule: string, message: string): void {
    this.#exchange.onLint(String(rule), String(message));
  }
}

/**
 * An exchange that is recorded: the other side of the recording seam. Each
 * hook turns a step of the exchange into an event of `server/recorder.ts`
 * for its {@linkcode ExchangeRecorder}, stamped with the last clock reading,
 * read again where the application's code ran. A recorder that throws is
 * reported once, and the exchange goes on unrecorded.
 */
export class RecordedExchange extends Exchange implements InputOptions {
  rec: ExchangeRecorder | undefined;
  /** Rules already recorded as `lint` events (one event per rule per exchange). */
  linted: Set<string> | undefined;
  /** buildEnviron collects the header pairs for the `request` event as it reads them (into pairs every exchange reuses). */
  override requestHeaders: [string, string][] | undefined = REQUEST_HEADERS;

  constructor(
    request: Request,
    info: HandlerInfo | undefined,
    shared: Shared,
    started: number,
    rec: ExchangeRecorder,
  ) {
    super(request, info, shared, started);
    this.rec = rec;
  }

  /** Records an event at the last clock reading; a failing recorder is reported once and then left alone. */
  emit<K extends EventType>(type: K, data: EventMap[K]): void {
    const rec = this.rec;
    if (rec === undefined) return;
    try {
      rec.record(type, data, this.t);
    } catch (error) {
      this.rec = undefined;
      recorderFailed(this.shared.sink, error);
    }
  }

  override wantsEndTime(): boolean {
    return true;
  }

  override stampEnd(): void {
    // Every way to sendArray() read the clock after the application's code last
    // ran (onArrayBody, onClose, stamp): the end shares that reading.
  }

  /** Watches the client (`watchClient`) while the app makes its answer. */
  override onPending(): void {
    if (this.shared.options.watchClient) this.watchClient();
  }

  /** A client that leaves before the headers went out is a `client.left` lint, at that moment. */
  watchClient(): void {
    this.request.signal.addEventListener("abort", () => {
      // Also fired after a complete response under Deno's legacy behaviour: then it is no news.
      if (this.finished || this.headers_sent) return;
      this.onLint(
        "client.left",
        "The client went away before the response's headers went out, while the application was still running; what it answers now reaches no one",
      );
    }, { once: true });
  }

  override stamp(): void {
    this.tick();
  }

  override errorStream(): Errors {
    return new RecordedErrors(this.shared.sink, this);
  }

  /** Text written to `wsgi.errors` (from {@linkcode RecordedErrors}). */
  onErrorsText(text: string): void {
    this.tick();
    const p = PAYLOAD.errors;
    p.text = text;
    this.emit("errors", p);
  }

  /** The upload limit, for `wsgi.input` ({@linkcode InputOptions}: this exchange is its input's options). */
  get limit(): number {
    return this.shared.limit;
  }

  /** A read from `wsgi.input` ({@linkcode InputOptions}). */
  onRead(method: EventMap["input"]["method"], size: number | undefined, bytes: Uint8Array): void {
    this.tick();
    const p = PAYLOAD.input;
    p.method = method;
    p.size = size;
    p.bytes = bytes;
    this.emit("input", p);
  }

  override inputOptions(): InputOptions {
    return this;
  }

  override onEnviron(dropped: string | undefined): void {
    // All at the arrival's reading: only the gateway's own code ran since.
    const request = PAYLOAD.request;
    request.method = this.method;
    request.target = this.target;
    request.peer = this.peer;
    request.headers = this.requestHeaders!;
    this.emit("request", request);
    // Nothing but the gateway touched the environ yet: how it was built says all of it.
    const options = this.shared.environ;
    const derivation = DERIVATION;
    derivation.url = this.url ?? this.request.url;
    derivation.serverName = options.serverName;
    derivation.serverPort = options.serverPort;
    derivation.urlScheme = options.urlScheme;
    derivation.multiprocess = options.multiprocess ?? false;
    derivation.dropped = dropped !== undefined;
    derivation.inputLeft = this.input.left;
    const environ = PAYLOAD.environ;
    environ.environ = this.environ;
    this.emit("environ", environ);
    // The seam for the validator's lint events, after the snapshot (it is no request data).
    this.environ[LINT_KEY] = this.environ["wsgi.errors"];
    if (dropped !== undefined) this.onLint("request.body_dropped", dropped);
  }

  override onCall(): void {
    const p = PAYLOAD.call;
    p.app = this.shared.options.appName ?? "application";
    this.emit("call", p);
  }

  override onStartResponse(
    status: unknown,
    headers: unknown,
    excInfo: boolean,
    error?: string,
  ): void {
    this.tick();
    const p = PAYLOAD.start_response;
    p.status = status;
    p.headers = headers;
    p.exc_info = excInfo;
    p.error = error;
    this.emit("start_response", p);
  }

  override onWrite(index: number, data: Uint8Array): void {
    this.tick();
    const p = PAYLOAD.write;
    p.index = index;
    p.bytes = data;
    this.emit("write", p);
  }

  override onArrayBody(body: Uint8Array[], count: number): void {
    // One reading for every chunk: they are all here already.
    this.tick();
    const p = PAYLOAD.chunk;
    for (let i = 0; i < count; i++) {
      p.index = i;
      p.bytes = body[i]!;
      this.emit("chunk", p);
    }
  }

  override onChunk(index: number, chunk: Uint8Array): void {
    this.tick();
    const p = PAYLOAD.chunk;
    p.index = index;
    p.bytes = chunk;
    this.emit("chunk", p);
  }

  override onClose(called: boolean): void {
    // Only a close() the body had ran the application's code.
    if (called) this.tick();
    const p = PAYLOAD.close;
    p.called = called;
    this.emit("close", p);
  }

  override onHeadersSent(): void {
    const p = PAYLOAD.headers_sent;
    p.status = this.code;
    p.status_line = this.status_set!;
    p.headers = this.headers;
    this.emit("headers_sent", p);
  }

  override onError(where: ErrorSite, error: unknown): void {
    if (this.rec === undefined) return;
    const e = error instanceof Error ? error : undefined;
    this.tick();
    const p = PAYLOAD.error;
    p.where = where;
    p.name = e?.name ?? typeof error;
    p.message = e?.message ?? String(error);
    p.stack = e?.stack;
    this.emit("error", p);
    if (error instanceof ProtocolError) this.onLint(error.rule, error.message);
  }

  override onLint(rule: string, message: string): void {
    if (this.rec === undefined) return;
    this.linted ??= new Set();
    if (this.linted.has(rule)) return;
    this.linted.add(rule);
    this.tick();
    const p = PAYLOAD.lint;
    p.rule = rule;
    p.message = message;
    this.emit("lint", p);
  }

  override onTimeout(message: string): void {
    this.tick();
    const p = PAYLOAD.error;
    p.where = "gateway";
    p.name = "TimeoutError";
    p.message = message;
    p.stack = undefined;
    this.emit("error", p);
  }

  override stopRecording(): void {
    this.rec = undefined;
  }

  override onFinish(outcome: LogEntry["outcome"], reason: string | undefined): void {
    if (outcome === "end") {
      const p = PAYLOAD.end;
      p.status = this.code;
      p.bytes = this.bytes;
      this.emit("end", p);
    } else {
      const p = PAYLOAD.abort;
      p.reason = reason ?? outcome;
      p.bytes = this.bytes;
      this.emit("abort", p);
    }
  }

  /**
   * Lets the request body go, as an unrecorded exchange does, but after a
   * complete response first drains what the application left unread, up to
   * what the recorder still wants, for an `input_rest` event: the request as
   * the client sent it (`Input.finish` says how, and why it never changes
   * what the application reads).
   */
  override finishInput(outcome: LogEntry["outcome"]): void {
    const want = outcome === "end" ? this.rec?.restWanted ?? 0 : 0;
    if (!(want > 0)) {
      this.input.finish();
      return;
    }
    this.input.finish({
      max: want,
      done: (bytes, complete) => {
        this.tick();
        const p = PAYLOAD.input_rest;
        p.bytes = bytes;
        p.complete = complete;
        this.emit("input_rest", p);
      },
    });
  }
}

/** Says on `sink` that a recorder failed; the exchange goes on unrecorded. */
export function recorderFailed(sink: TextSink, error: unknown): void {
  sink.write(`Recorder failed; this exchange is no longer recorded: ${describeForLog(error)}\n`);
}
