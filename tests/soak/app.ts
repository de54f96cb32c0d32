/**
 * The application the soak serves (`deno task soak`): one route per kind of
 * load, every body with a `close()` that counts its calls, and `/stats` to
 * read the counts and the process's memory.
 *
 * | route | what it does |
 * |---|---|
 * | `/hello` | a small page |
 * | `/error` | throws before `start_response` (a 500) |
 * | `/late-error` | throws after the first chunk (a cut connection) |
 * | `/stream?n=K` | K chunks from an async generator, 1 ms apart |
 * | `/forever` | an endless stream (its client leaves) |
 * | `/stuck` | one chunk, then a `next()` that waits 1.5 s (its client leaves) |
 * | `/stuck-gen` | the same from an async generator with no `close()` (not counted) |
 * | `/upload?mode=full\|part\|none` | reads the body in full, in part or not at all |
 * | `/stats` | `{ bodies, closedOnce, doubled, open, rss, heapUsed }` |
 *
 * @module
 */

import type { Application, ResponseBody } from "../../mod.ts";

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bodies handed out with a counting close(), bodies closed once, extra close() calls. */
const counts = { bodies: 0, closedOnce: 0, doubled: 0 };

/** Gives `body` a close() that counts (and calls the body's own, if any). */
function counted<T extends object>(body: T): T & ResponseBody {
  counts.bodies++;
  let calls = 0;
  const own = (body as { close?: () => void }).close;
  return Object.assign(body, {
    close() {
      calls++;
      if (calls === 1) counts.closedOnce++;
      else counts.doubled++;
      own?.call(body);
    },
  }) as T & ResponseBody;
}

const text = "text/plain; charset=utf-8";

/** The soak's application. */
export const application: Application = async (environ, start_response) => {
  const path = environ.PATH_INFO;
  const query = new URLSearchParams(environ.QUERY_STRING);
  switch (path) {
    case "/hello":
      start_response("200 OK", [["Content-Type", text]]);
      return counted([encoder.encode("hello")]);
    case "/error":
      throw new Error("soak: an application error");
    case "/late-error":
      start_response("200 OK", [["Content-Type", text]]);
      return counted((async function* () {
        yield encoder.encode("first part\n");
        await sleep(1);
        throw new Error("soak: an error mid-stream");
      })());
    case "/stream": {
      const n = Number(query.get("n") ?? 10);
      start_response("200 OK", [["Content-Type", text]]);
      return counted((async function* () {
        for (let i = 0; i < n; i++) {
          yield encoder.encode(`chunk ${i}\n`);
          await sleep(1);
        }
      })());
    }
    case "/forever":
      start_response("200 OK", [["Content-Type", text]]);
      return counted((async function* () {
        for (let i = 0;; i++) {
          yield encoder.encode(`line ${i}\n`);
          await sleep(5);
        }
      })());
    case "/stuck": {
      start_response("200 OK", [["Content-Type", text]]);
      let sent = false;
      return counted({
        [Symbol.asyncIterator]: () => ({
          async next(): Promise<IteratorResult<Uint8Array>> {
            if (!sent) {
              sent = true;
              return { done: false, value: encoder.encode("one chunk, then a long wait\n") };
            }
            await sleep(1500);
            return { done: true, value: undefined };
          },
        }),
      });
    }
    case "/stuck-gen":
      start_response("200 OK", [["Content-Type", text]]);
      return (async function* () {
        yield encoder.encode("one chunk, then a long wait\n");
        await sleep(1500);
      })();
    case "/upload": {
      const input = environ["wsgi.input"];
      const mode = query.get("mode");
      let read = 0;
      if (mode === "full") read = (await input.read()).length;
      else if (mode === "part") read = (await input.read(1000)).length;
      start_response("200 OK", [["Content-Type", text]]);
      return counted([encoder.encode(`read ${read}`)]);
    }
    case "/stats": {
      const memory = Deno.memoryUsage();
      start_response("200 OK", [["Content-Type", "application/json"]]);
      return [encoder.encode(JSON.stringify({
        ...counts,
        open: counts.bodies - counts.closedOnce,
        rss: memory.rss,
        heapUsed: memory.heapUsed,
      }))];
    }
    default:
      start_response("404 Not Found", [["Content-Type", text]]);
      return counted([encoder.encode("not found")]);
  }
};
