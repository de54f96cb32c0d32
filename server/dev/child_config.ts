/**
 * What the supervisor tells an app process (`./child.ts`): its one argument
 * on the command line (JSON), and the `load` message a standby waits for.
 *
 * @module
 */

import type { AppRecording } from "./contract.ts";
import type { LoadError } from "./load_error.ts";
import type { ToolkitOptions } from "./compose.ts";

/** What the supervisor tells an app process, as its one argument (JSON). */
export interface ChildConfig {
  /** The channel's Unix socket. */
  channel: string;
  generation: number;
  worker: number;
  /** The module's URL, and the name it is shown by. */
  module: string;
  shown: string;
  /** The export to serve; `application`, else the default export, else `fetch`, when absent. */
  name?: string;
  hostname: string;
  port: number;
  /** Seconds an exchange may run (0: no limit). */
  timeout: number;
  /** Whether several processes serve the app (`wsgi.multiprocess`). */
  multiprocess: boolean;
  /** How to record exchanges for the inspector; not at all when absent. */
  recording?: AppRecording;
  /** The largest request body the gateway takes; its default when absent. */
  maxRequestBody?: number;
  /** The toolkit's pieces around the app; none when absent. */
  toolkit?: ToolkitOptions;
  /** The request log on stderr. */
  log: boolean;
  /** The inspector's URL, for links from the error pages. */
  inspectorUrl?: string;
  /** Show the debug page and the load-error page to clients off loopback too (`--debug-any-client`). */
  debugAnyClient?: boolean;
  /** Serve this error page and do not load the module (the supervisor's fallback). */
  failed?: LoadError;
}
