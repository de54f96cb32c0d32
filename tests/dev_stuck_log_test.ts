/**
 * The request log of an exchange the supervisor answers for a stuck app
 * process (`server/dev/stuck_clients.ts`): one line on stderr, as the
 * gateway writes for its own 504, unless `--quiet`.
 */

import { equal, match, ok } from "node:assert/strict";
import { get, startDev } from "./_dev.ts";
import { sleep } from "./_helpers.ts";

const SPINNING_APP =
  `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/spin") while (true) { /* a CPU-bound loop */ }
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("ok")];
};
`;

/** The log line of the 504, with the target the inspector's intake gives (`OpenExchange.target`). */
const LINE_504 =
  /127\.0\.0\.1:\d+ - - \[\d\d\/\w{3}\/\d{4} \d\d:\d\d:\d\d\] "GET \/spin HTTP\/1\.1" 504 (\d+) (\d+)\.\dms\n/;

for (const quiet of [false, true]) {
  Deno.test(
    `CLI --timeout 1${
      quiet ? " --quiet" : ""
    }: the 504 the supervisor answers for a spinning app process is ${
      quiet ? "not logged" : "logged, one line on stderr"
    }`,
    async () => {
      const dev = await startDev(
        { "app.ts": SPINNING_APP },
        ["--timeout", "1", ...(quiet ? ["--quiet"] : [])],
      );
      try {
        equal((await get(dev.url)).text, "ok");
        // The records of that exchange go out before the spin (see tests/dev_test.ts).
        await sleep(50);
        const spin = await get(`${dev.url}/spin`);
        equal(spin.status, 504, spin.text);
        await dev.waitFor(/restarted/);
        if (quiet) {
          await sleep(200);
          ok(!/" 504 /.test(dev.output()), dev.output());
          return;
        }
        const m = await dev.waitFor(LINE_504, 5000);
        equal(Number(m[1]), new TextEncoder().encode(spin.text).length, "the body's bytes");
        ok(Number(m[2]) >= 900, `the exchange ran past the timeout (${m[2]} ms)`);
        match(dev.output(), /did not answer for \d+\.\d s \(a CPU-bound loop\?\)/);
      } finally {
        await dev.cleanup();
      }
    },
  );
}
