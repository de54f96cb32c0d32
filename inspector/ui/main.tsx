/**
 * The page's entry point, bundled into `/app.js`: creates the client and the
 * stores and renders the {@linkcode App} into `#app`.
 *
 * @module
 */

import { render } from "preact";
import { createApiClient } from "./api_client.ts";
import { App } from "./app.tsx";
import { createStores, StoresContext } from "./stores.ts";

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  const stores = createStores(createApiClient());
  render(
    <StoresContext.Provider value={stores}>
      <App />
    </StoresContext.Provider>,
    root,
  );
}
