/**
 * WSGI for Deno: PEP 3333 carried into TypeScript, served by `Deno.serve`,
 * with a request inspector on a side port.
 *
 * Run it: `deno run -A mod.ts [app.ts]` serves the module's `application`
 * (by default `examples/hello.ts`) on http://127.0.0.1:8000.
 *
 * @example
 * ```ts
 * import { type Application, toFetch } from "./mod.ts";
 *
 * export const application: Application = (environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/html"]]);
 *   return [new TextEncoder().encode(`<h1>Hello, ${environ.PATH_INFO}</h1>`)];
 * };
 *
 * const response = await toFetch(application)(new Request("http://localhost/web"));
 * console.assert(await response.text() === "<h1>Hello, /web</h1>");
 * ```
 *
 * @module
 */

export type {
  Application,
  Environ,
  ErrorStream,
  Header,
  InputStream,
  ResponseBody,
  StartResponse,
  Write,
} from "./server/types.ts";
export { type FetchHandler, type GatewayOptions, toFetch } from "./server/gateway.ts";
export { make_server, serve, type ServeOptions, type Server, WSGIServer } from "./server/serve.ts";
export { ProtocolError } from "./server/rules.ts";
export type {
  EventMap,
  EventType,
  ExchangeRecorder,
  InspectorHandle,
  Recorder,
} from "./server/recorder.ts";
export { loadApplication, main } from "./server/cli.ts";
// The toolkit: wsgiref's validate, util and headers, and Werkzeug's middleware and test client.
export { validator, type ValidatorOptions } from "./server/validate.ts";
export { lint, LINT_KEY, type LintReport, type LintReporter } from "./server/lint.ts";
export {
  applicationUri,
  ErrorBuffer,
  guessScheme,
  isHopByHop,
  requestUri,
  setupTestingDefaults,
  shiftPathInfo,
} from "./server/util.ts";
export { Headers } from "./server/headers.ts";
export {
  type FileLike,
  FileWrapper,
  type FileWrapperFactory,
  type FileWrapperOptions,
} from "./server/file_wrapper.ts";
export { staticFiles, type StaticOptions } from "./server/static.ts";
export { mount } from "./server/mount.ts";
export { proxyFix, type ProxyFixOptions } from "./server/proxy_fix.ts";
export { type AnyFetchHandler, type FetchInfo, fromFetch } from "./server/from_fetch.ts";
export {
  Client,
  type ClientOptions,
  type Cookie,
  type RequestOptions,
  TestResponse,
} from "./server/client.ts";
export { createInspector, type Inspector, type InspectorOptions } from "./inspector/mod.ts";
export {
  ExchangeStore,
  type ListFilter,
  REPLAY_HEADER,
  type StoreOptions,
} from "./inspector/store.ts";
export { FrameRecorder } from "./inspector/capture.ts";
export { type Har, type HarEntry, toHar } from "./inspector/har.ts";
export { reduce, summarize, type TimelineState } from "./inspector/timeline.ts";
export type {
  BytesRef,
  CapturedBody,
  ExchangeDetail,
  ExchangeList,
  ExchangeSummary,
  ReplayRequest,
  ReplayResult,
  StreamMessage,
  WireEvent,
} from "./inspector/protocol.ts";

import { main } from "./server/cli.ts";
import { createInspector } from "./inspector/mod.ts";

// main() never imports the application: each app process does
// (server/dev/child.ts). Still no top-level await: this module finishes
// evaluating at once, so that a module this process imports later and that
// imports mod.ts (as an app does for `toFetch`) finds it evaluated, instead of
// waiting for the server to stop (a deadlock: "Top-level await promise never
// resolved").
if (import.meta.main) {
  main(Deno.args, { inspector: createInspector }).then(Deno.exit);
}
