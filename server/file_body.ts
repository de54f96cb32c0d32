/**
 * The file-wrapper path: a {@linkcode FileWrapper} body (`wsgi.file_wrapper`,
 * PEP 3333's "optional platform-specific file handling"). The file's own
 * stream goes to the client block by block, as the client reads, without the
 * application's code in the way.
 *
 * @module
 */

import type { FileWrapper } from "./file_wrapper.ts";
import { isNullBodyStatus } from "./rules.ts";
import { closeBody } from "./close.ts";
import type { Exchange } from "./exchange.ts";
import { fail, sendArray } from "./respond_array.ts";
import { sendStream } from "./respond_stream.ts";

/** Answers a file-wrapper body: its file's stream, as the client reads. */
export function respondFile(ex: Exchange, body: FileWrapper): Response | Promise<Response> {
  const problem = ex.checkReady(isNullBodyStatus(ex.code) ? 1 : undefined);
  if (problem) return closeThen(ex, body, () => fail(ex, "application", problem));
  if (ex.method === "HEAD") {
    // The file is never read: close it, then the headers alone.
    return closeThen(ex, body, () => {
      ex.stamp();
      return sendArray(ex, [], 0);
    });
  }
  const source = body.stream().getReader();
  const declared = ex.declaredLength();
  let index = 0;
  // The home of close() for a file wrapper (see ./close.ts): once its stream
  // ends, fails or is cancelled, since the file's stream, not the iterable, is read.
  const closeFile = () => {
    try {
      closeBody(ex, body);
    } catch (error) {
      ex.report("close", error);
    }
  };
  return sendStream(
    ex,
    async (controller) => {
      try {
        const r = await source.read();
        if (ex.finished) return;
        if (r.done) {
          ex.checkEnd(declared, "file");
          controller.close();
          closeFile();
          ex.finishNow("end");
          return;
        }
        ex.onChunk(index++, r.value);
        ex.enqueue(controller, r.value, declared);
        if (declared !== undefined && ex.bytes === declared) {
          // All the announced bytes are out: Deno may not pull again to see the end.
          controller.close();
          source.cancel().catch(() => {});
          closeFile();
          ex.finishNow("end");
        }
      } catch (error) {
        if (ex.finished) return;
        ex.report("iterable", error);
        source.cancel().catch(() => {});
        closeFile();
        ex.cut(controller, error);
      }
    },
    async () => {
      ex.finishNow("aborted", "client disconnected");
      await source.cancel().catch(() => {});
      closeFile();
    },
    declared,
  );
}

/**
 * Closes a file that is not sent (HEAD, a refused response), then answers
 * `answer`; a `close()` that fails is reported, and `answer` goes on.
 */
function closeThen(
  ex: Exchange,
  body: FileWrapper,
  answer: () => Response | Promise<Response>,
): Response | Promise<Response> {
  const reported = (error: unknown) => {
    ex.report("close", error);
    return answer();
  };
  let closing: Promise<void> | undefined;
  try {
    closing = closeBody(ex, body);
  } catch (error) {
    return reported(error);
  }
  return closing === undefined ? answer() : closing.then(answer, reported);
}
