/**
 * The banner over the page while the app's module cannot be served: which
 * module, why, where (`file:line:col`) and the code around it. It goes away
 * by itself when a fixed file is loaded.
 *
 * @module
 */

import type { LoadErrorWire, ServerEventWire } from "../protocol.ts";
import { formatClock } from "./format.ts";

/** Props of {@linkcode ServerBanner}. */
export interface ServerBannerProps {
  loadError: LoadErrorWire | null;
}

/** Props of {@linkcode ServerFaults}. */
export interface ServerFaultsProps {
  /** The server-level events, oldest first. */
  events: ServerEventWire[];
  /** Faults before this time (epoch ms) are dismissed. */
  since: number;
  onDismiss: () => void;
}

const FAULT_LABEL: Record<string, string> = {
  unhandledrejection: "Unhandled promise rejection",
  error: "Uncaught exception outside any request",
  exit: "App process exited",
  timeout: "App process stuck",
};

/**
 * Faults that no exchange caught (an unhandled rejection, an exception in a
 * timer, an app process that exited or spun): the newest, and the rest with
 * their stacks in a fold. Dismissed until the next one.
 */
export function ServerFaults({ events, since, onDismiss }: ServerFaultsProps) {
  const faults = events.filter((e): e is Extract<ServerEventWire, { type: "fault" }> =>
    e.type === "fault" && e.time >= since
  );
  if (faults.length === 0) return null;
  const last = faults.at(-1)!;
  return (
    <div class="banner faults" role="status" data-testid="server-faults">
      <strong>{FAULT_LABEL[last.fault.kind] ?? last.fault.kind}</strong>
      {`: ${last.fault.name}: ${last.fault.message}`}
      <span class="muted">{` — ${formatClock(last.time)} · generation ${last.generation}`}</span>
      <button type="button" class="dismiss" data-testid="dismiss-faults" onClick={onDismiss}>
        Dismiss
      </button>
      <details>
        <summary>
          {faults.length} server event{faults.length === 1 ? "" : "s"} no exchange caught
        </summary>
        {faults.map((f) => (
          <pre key={f.time + f.fault.message} data-testid="fault-stack">
            {`${formatClock(f.time)} ${FAULT_LABEL[f.fault.kind] ?? f.fault.kind} (pid ${f.pid})\n${
              f.fault.stack ?? `${f.fault.name}: ${f.fault.message}`
            }`}
          </pre>
        ))}
      </details>
    </div>
  );
}

/** The load error banner; nothing while the module serves. */
export function ServerBanner({ loadError }: ServerBannerProps) {
  if (!loadError) return null;
  const where = loadError.place ??
    (loadError.file
      ? `${loadError.file}${loadError.line ? `:${loadError.line}:${loadError.column}` : ""}`
      : "");
  return (
    <div class="banner" role="alert" data-testid="load-error-banner">
      <strong>Cannot serve {loadError.module} ({loadError.kind})</strong>
      {": "}
      {loadError.message}
      {where && <span class="muted" data-testid="banner-location">{` — ${where}`}</span>}
      {loadError.frame && <pre data-testid="banner-frame">{loadError.frame}</pre>}
      <div class="muted">Every request gets the error page until you save a fix.</div>
    </div>
  );
}
