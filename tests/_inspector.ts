/**
 * Helpers of the inspector tests: fixture apps, an app server wired to an
 * inspector on ephemeral loopback ports, and a reader of Server-Sent Events.
 *
 * @module
 */

import type { Application } from "../mod.ts";
import { serve, type Server } from "../server/serve.ts";
import { createInspector, type Inspector, type InspectorOptions } from "../inspector/mod.ts";
import type { ExchangeDetail, StreamMessage } from "../inspector/protocol.ts";
import { reduce, type TimelineState } from "../inspector/timeline.ts";
import { MemorySink } from "./_helpers.ts";

const encoder = new TextEncoder();

/** Answers `<method> <path>` as text, with a `Set-Cookie` and the query echoed. */
export const textApp: Application = (environ, start_response) => {
  start_response("200 OK", [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Set-Cookie", "seen=1; Path=/; HttpOnly"],
  ]);
  return [encoder.encode(`${environ.REQUEST_METHOD} ${environ.PATH_INFO}`)];
};

/** Reads the whole request body from `wsgi.input` and answers it back, with its method. */
export const echoApp: Application = async (environ, start_response) => {
  const body = await environ["wsgi.input"].read();
  const status = environ.PATH_INFO === "/missing" ? "404 Not Found" : "200 OK";
  start_response(status, [
    ["Content-Type", String(environ.CONTENT_TYPE || "application/octet-stream")],
    ["X-Method", environ.REQUEST_METHOD as string],
  ]);
  return [body];
};

/** The reducer's state after every event of an exchange's detail. */
export function stateOf(detail: ExchangeDetail): TimelineState {
  return reduce(detail.events);
}

/** The environ recorded in an exchange's detail (`{}` when none was). */
export function environOf(detail: ExchangeDetail): Record<string, unknown> {
  return stateOf(detail).environ ?? {};
}

/** Decodes a detail's captured stream (base64) as UTF-8 text. */
export function bodyText(body: { bytes: string }): string {
  return new TextDecoder().decode(Uint8Array.fromBase64(body.bytes));
}

/** Deterministic pseudo-random bytes (not text), for byte-for-byte comparisons. */
export function noise(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >> 16;
  }
  return out;
}

/** What {@linkcode withInspector} hands the test. */
export interface InspectorFixture {
  app: Server;
  inspector: Inspector;
  /** The inspector's URL as printed (with `?token=` when there is one). */
  url: string;
  /** The inspector's origin, `http://127.0.0.1:PORT`. */
  origin: string;
  /** The app server's diagnostics. */
  sink: MemorySink;
}

/**
 * Serves `app` with an inspector recording it, both on 127.0.0.1 on free
 * ports, for the duration of `fn`; shuts both down after.
 */
export async function withInspector(
  app: Application,
  fn: (fixture: InspectorFixture) => Promise<void>,
  options: InspectorOptions = {},
): Promise<void> {
  const inspector = createInspector({
    port: 0,
    page: () => Promise.resolve({ html: "<!doctype html><p>page</p>", js: "console.log(1)" }),
    ...options,
  });
  const sink = new MemorySink();
  const server = serve(app, { port: 0, log: false, errors: sink, recorder: inspector.recorder });
  try {
    const { url } = await inspector.listen(server.url);
    await fn({ app: server, inspector, url, origin: new URL(url).origin, sink });
  } finally {
    await server.shutdown();
    await inspector.shutdown();
  }
}

/** Reads `data:` messages (and comments) from an SSE response body. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  /** Every message parsed so far. */
  readonly messages: StreamMessage[] = [];
  /** Every comment line seen so far (without the colon). */
  readonly comments: string[] = [];

  constructor(response: Response) {
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Reads until `check` holds for the messages so far, or fails after `timeout` ms. */
  async until(
    check: (messages: StreamMessage[], comments: string[]) => boolean,
    what: string,
    timeout = 5000,
  ): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `Timed out waiting for ${what}; got ${JSON.stringify(this.messages).slice(0, 2000)}`,
            ),
          ),
        timeout,
      );
    });
    try {
      while (!check(this.messages, this.comments)) {
        const { done, value } = await Promise.race([this.#reader.read(), expired]);
        if (done) throw new Error(`The stream ended while waiting for ${what}`);
        this.#buffer += value;
        let end;
        while ((end = this.#buffer.indexOf("\n\n")) !== -1) {
          const frame = this.#buffer.slice(0, end);
          this.#buffer = this.#buffer.slice(end + 2);
          for (const line of frame.split("\n")) {
            if (line.startsWith("data: ")) this.messages.push(JSON.parse(line.slice(6)));
            else if (line.startsWith(":")) this.comments.push(line.slice(1).trim());
          }
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops reading (the server sees the client go away). */
  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}
