/**
 * The CLI run from a copy of this project whose own environ code is edited
 * while it serves: the app processes then run the new code, the supervisor
 * still the old, and the inspector must show the environ the app was given
 * (an app process writes it entry by entry, not as a derivation the
 * supervisor would rebuild with its old code: `environCodeFingerprint`).
 */

import { equal } from "node:assert/strict";
import { eventually, get, startDev } from "./_dev.ts";
import { ROOT, sleep } from "./_helpers.ts";
import type { ExchangeDetail, ExchangeList } from "../inspector/protocol.ts";

const json = async <T>(url: string): Promise<T> => JSON.parse((await get(url)).text) as T;

/** Waits until the inspector has a complete exchange whose target is `target`. */
async function recorded(inspector: string, target: string): Promise<void> {
  await eventually(async () => {
    const list = await json<ExchangeList>(`${inspector}/api/exchanges`);
    return list.exchanges.some((x) => x.target === target && x.state === "complete");
  }, `${target} recorded`);
}

/** The environ the inspector shows for the newest exchange whose target is `target`. */
async function recordedEnviron(inspector: string, target: string) {
  const list = await json<ExchangeList>(`${inspector}/api/exchanges`);
  const newest = list.exchanges.find((x) => x.target === target)!;
  const detail = await json<ExchangeDetail>(`${inspector}/api/exchanges/${newest.id}`);
  const event = detail.events.find((e) => e.type === "environ")!;
  return (event.data as { environ: Record<string, unknown> }).environ;
}

Deno.test("CLI: after an edit of the server's own environ code, the inspector shows the environ the app got, not one rebuilt with the supervisor's old code", async () => {
  const copy = `${await Deno.makeTempDir({ prefix: "wsgi-copy-" })}/`;
  for (const name of ["mod.ts", "deno.json", "deno.lock", "server", "inspector"]) {
    const { success } = await new Deno.Command("cp", { args: ["-r", `${ROOT}${name}`, copy] })
      .output();
    equal(success, true, `copied ${name}`);
  }
  // The app imports the copy's mod.ts, so that the copy's server/ is in the graph the CLI watches.
  const app = `import { Headers } from ${JSON.stringify(`${copy}mod.ts`)};
export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  start_response("200 OK", new Headers([["Content-Type", "text/plain"]]).items());
  return [new TextEncoder().encode(String(environ["test.edited"] ?? "no"))];
};
`;
  const dev = await startDev({ "app.ts": app }, [], "app.ts", [], copy);
  try {
    equal((await get(`${dev.url}/before`)).text, "no");
    await recorded(dev.inspector, "/before");
    equal((await recordedEnviron(dev.inspector, "/before"))["test.edited"], undefined);
    const file = `${copy}server/environ.ts`;
    const code = await Deno.readTextFile(file);
    const anchor = `"wsgi.run_once": false,`;
    equal(code.includes(anchor), true, "the environ literal has the line the edit follows");
    await Deno.writeTextFile(file, code.replace(anchor, `${anchor}\n    "test.edited": "yes",`));
    // The watcher may not have read the app's imports yet: saves of app.ts reload it anyway, and
    // a process started after the edit runs the edited code.
    let saves = 0;
    await eventually(
      async () => {
        if ((await get(`${dev.url}/after`)).text === "yes") return true;
        await dev.write("app.ts", `${app}// save ${++saves}\n`);
        await sleep(300);
        return false;
      },
      "the edited code to serve",
      30_000,
    );
    // One more request, whose target no earlier exchange has, once the edited code serves.
    equal((await get(`${dev.url}/edited`)).text, "yes");
    await recorded(dev.inspector, "/edited");
    const environ = await recordedEnviron(dev.inspector, "/edited");
    equal(environ["test.edited"], "yes", "the environ the app was given, key for key");
    equal(environ.PATH_INFO, "/edited");
  } finally {
    await dev.cleanup();
    await Deno.remove(copy, { recursive: true }).catch(() => {});
  }
});
