/**
 * Test runs leave nothing in `/tmp`: the dev tests' cleanup kills the CLI
 * (SIGKILL), which cannot then remove its own temporary folder
 * (`wsgi-dev-*`, holding the channel's socket), so each CLI a test starts
 * runs with a `TMPDIR` of its own that the cleanup removes (`./_dev.ts`).
 * A stop by signal, where the CLI removes its folder itself, is in
 * `dev_test.ts`.
 */

import { equal, ok } from "node:assert/strict";
import { exists, helloApp, startDev, supervisorDir } from "./_dev.ts";

Deno.test("startDev()'s cleanup removes every folder the test made, the supervisor's that the SIGKILL left included", async () => {
  const dev = await startDev({ "app.ts": helloApp("hi") });
  let folders: string[] = [];
  try {
    const supervisor = supervisorDir(dev.appPids());
    folders = [dev.dir, dev.tmp, supervisor];
    for (const folder of folders) ok(exists(folder), `${folder} exists while serving`);
  } finally {
    await dev.cleanup();
  }
  equal((await dev.ended()).signal, "SIGKILL", "the cleanup killed the CLI");
  for (const folder of folders) ok(!exists(folder), `${folder} was removed`);
});
