/**
 * The banner over the page while the app's module cannot be served: which
 * module, why, where (`file:line:col`) and the code around it. It goes away
 * by itself when a fixed file is loaded.
 *
 * @module
 */

import type { LoadErrorWire } from "../protocol.ts";

/** Props of {@linkcode ServerBanner}. */
export interface ServerBannerProps {
  loadError: LoadErrorWire | null;
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
