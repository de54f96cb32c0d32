/**
 * The environ rebuilt from what was recorded of its request: the gateway's
 * own {@linkcode buildEnviron} run again on the `request` event's method,
 * header pairs and peer and the `environ` event's derivation
 * (`./recorder.ts`). A recorder that keeps this recipe instead of every
 * entry gets back the very environ the application was given, because the
 * same code builds it from the same inputs: the header pairs are the ones
 * `buildEnviron` read, in its order (the gateway collects them as it reads).
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { EnvironDerivation, EnvironRule } from "./recorder.ts";
import type { Environ } from "./types.ts";
import { buildEnviron } from "./environ.ts";
import { Input } from "./input.ts";
import { Errors } from "./log.ts";

/** `wsgi.errors` of a rebuilt environ: of the class every exchange's is (described alike). */
const ERRORS = new Errors({ write() {}, flush() {} });

/**
 * What Deno.serve dropped of a GET or HEAD body leaves the environ: no
 * `CONTENT_LENGTH`, no `wsgi.input_terminated` (the gateway's and the rule's
 * one way to say so).
 */
export function leaveOutDroppedBody(environ: Environ): void {
  delete environ.CONTENT_LENGTH;
  delete environ["wsgi.input_terminated"];
}

/**
 * Rebuilds an environ from its derivation and its request's method, header
 * pairs (as `buildEnviron` read them) and peer. Its `wsgi.input` is an
 * unread input of the same length and `wsgi.errors` an error stream of the
 * same class (neither reads or writes anything): they describe themselves as
 * the live ones did.
 *
 * @example
 * ```ts
 * import { deriveEnviron } from "./environ_rule.ts";
 * const environ = deriveEnviron({
 *   url: "http://127.0.0.1:8000/a%20b?x=1",
 *   serverName: "127.0.0.1",
 *   serverPort: "8000",
 *   urlScheme: "http",
 *   multiprocess: false,
 *   dropped: false,
 *   inputLeft: 0,
 * }, { method: "GET", headers: [["host", "127.0.0.1:8000"]], peer: null });
 * console.assert(environ.PATH_INFO === "/a b" && environ.HTTP_HOST === "127.0.0.1:8000");
 * ```
 */
export const deriveEnviron: EnvironRule = (
  derivation: Omit<EnvironDerivation, "rule">,
  request,
) => {
  const pairs = request.headers;
  // Only what buildEnviron reads of a Request: its url, method and headers' forEach.
  const recorded = {
    url: derivation.url,
    method: request.method,
    headers: {
      forEach(visit: (value: string, name: string) => void) {
        for (let i = 0; i < pairs.length; i++) visit(pairs[i]![1], pairs[i]![0]);
      },
    },
  } as unknown as Request;
  const left = derivation.inputLeft;
  const environ = buildEnviron(recorded, {
    // Nothing read yet, as when the environ was recorded.
    input: new Input({ body: null }, left === Infinity ? undefined : left),
    errors: ERRORS,
    remoteAddr: request.peer ?? undefined,
    serverName: derivation.serverName,
    serverPort: derivation.serverPort,
    multiprocess: derivation.multiprocess,
    urlScheme: derivation.urlScheme,
    method: request.method,
  });
  if (derivation.dropped) leaveOutDroppedBody(environ);
  return environ;
};

/** This process's fingerprint of its environ code, once read. */
let fingerprint: string | undefined;

/**
 * A fingerprint of the code that builds and rebuilds environs: the name and
 * content of every module of this folder (`server/`, not its subfolders),
 * read once per process. Under the CLI an app process writes environs as
 * their derivation only when its fingerprint is the supervisor's
 * (`AppRecording.environCode`): a contributor who edits `server/environ.ts`
 * while the CLI runs gets app processes with the new code and a supervisor
 * with the old one, which would rebuild an environ the app was never given.
 * A folder that is not on disk (a remote import) is fixed by its URL; one
 * that cannot be read gets a fingerprint no other process has.
 */
export function environCodeFingerprint(): string {
  if (fingerprint !== undefined) return fingerprint;
  const dir = new URL("./", import.meta.url);
  if (dir.protocol !== "file:") return fingerprint = dir.href;
  try {
    const names: string[] = [];
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isFile && entry.name.endsWith(".ts")) names.push(entry.name);
    }
    const hash = createHash("sha256");
    for (const name of names.sort()) {
      hash.update(`${name}\0`);
      hash.update(Deno.readFileSync(new URL(name, dir)));
    }
    fingerprint = hash.digest("hex");
  } catch {
    fingerprint = `unread ${crypto.randomUUID()}`;
  }
  return fingerprint;
}
