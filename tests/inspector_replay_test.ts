/**
 * Replay over real sockets: it reaches only the app's own address (a canary
 * listener on another loopback port sees no connection, whatever the
 * target), and it sends exactly the recorded bytes (a raw TCP listener
 * standing in for the app records what arrives).
 *
 * @module
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { ExchangeDetail, ReplayChange, ReplayResult } from "../inspector/protocol.ts";
import { createApi } from "../inspector/api.ts";
import { ExchangeStore } from "../inspector/store.ts";
import { serve } from "../server/serve.ts";
import { MemorySink, rawRequest, readRawRequest, text } from "./_helpers.ts";
import { echoApp, environOf, noise, stateOf, textApp, withInspector } from "./_inspector.ts";

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** A loopback listener that counts the connections it gets and closes each at once. */
function canary() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const done = (async () => {
    for await (const conn of listener) {
      connections++;
      conn.close();
    }
  })();
  return {
    port: listener.addr.port,
    get connections() {
      return connections;
    },
    async close() {
      listener.close();
      await done.catch(() => {});
    },
  };
}

async function replay(origin: string, id: string, edit: unknown): Promise<[number, string]> {
  const response = await fetch(`${origin}/api/exchanges/${id}/replay`, {
    method: "POST",
    headers: { origin },
    body: JSON.stringify(edit),
  });
  return [response.status, await response.text()];
}

Deno.test("replay reaches only the app: every hostile target is refused or sent to the app", async () => {
  const bird = canary();
  try {
    await withInspector(textApp, async ({ app, origin }) => {
      const c = bird.port;
      // Originals recorded from raw requests with hostile targets, replayed as they are.
      for (const target of [`/\\127.0.0.1:${c}/x`, `/\\\\127.0.0.1:${c}/x`]) {
        const sent = await rawRequest(
          app.port,
          `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${app.port}\r\nConnection: close\r\n\r\n`,
        );
        equal(sent.status, 200, target);
      }
      await (await fetch(`${app.url}/plain`)).text();
      const refused = [
        `/\\127.0.0.1:${c}/x`,
        `\\\\127.0.0.1:${c}/x`,
        `//127.0.0.1:${c}/x`,
        `///127.0.0.1:${c}/x`,
        `//@127.0.0.1:${c}/x`,
        `http://127.0.0.1:${c}/x`,
        `HTTP://127.0.0.1:${c}/x`,
        `http:/127.0.0.1:${c}/x`,
        `127.0.0.1:${c}`,
        `/\t/127.0.0.1:${c}/x`,
        `/\r\nHost: 127.0.0.1:${c}\r\n\r\n`,
        `/x\nGET http://127.0.0.1:${c}/ HTTP/1.1`,
        "/x y",
        "/x#frag",
        "/x\x00",
        "/x\x7f",
        "/x\u00a0y",
        "/x\u0085",
        "/x\u2028",
        "/x\ud800",
        "*",
        "",
      ];
      for (const id of ["1", "2"]) {
        const [status, body] = await replay(origin, id, {});
        equal(status, 400, `recorded target of #${id}: ${body}`);
        match(body, /target must be origin-form/);
      }
      for (const target of refused) {
        const [status, body] = await replay(origin, "3", { target });
        equal(status, 400, `${JSON.stringify(target)}: ${body}`);
        match(body, /Cannot replay: target must be origin-form/);
        ok(body.includes(JSON.stringify(JSON.stringify(target)).slice(1, -1)), "quotes the target");
      }
      // Shapes that are origin-form go to the app, as written.
      const toApp = [
        `/@127.0.0.1:${c}/x`,
        "/%09x",
        "/%0d%0aHost:%20evil",
        `/x?next=http://127.0.0.1:${c}/`,
        "/%2F%2F127.0.0.1",
        "/café/\u2603?q=ü",
      ];
      for (const target of toApp) {
        const [status, body] = await replay(origin, "3", { target });
        equal(status, 200, `${JSON.stringify(target)}: ${body}`);
        const result = JSON.parse(body) as ReplayResult;
        const detail = await (await fetch(`${origin}/api/exchanges/${result.id}`))
          .json() as ExchangeDetail;
        equal(
          detail.target,
          target,
          `the app received the target as written: ${JSON.stringify(detail.target)}`,
        );
      }
      // An edited Host goes to the app too: the connection is to the app's address.
      const [status, body] = await replay(origin, "3", {
        headers: [["Host", `127.0.0.1:${c}`], ["X-Edited", "1"]],
      });
      equal(status, 200, body);
      const edited = await (await fetch(`${origin}/api/exchanges/${JSON.parse(body).id}`))
        .json() as ExchangeDetail;
      equal(environOf(edited).HTTP_HOST, `127.0.0.1:${c}`);
      // Header injection by CR, LF or another control character is refused.
      for (
        const headers of [
          [["Host", `127.0.0.1:${app.port}\r\nX-Injected: 1`]],
          [["X-A", "1\nGET / HTTP/1.1"]],
          [["X-A", "\x00"]],
          [["Bad Name", "1"]],
          [["X-A:", "1"]],
          [["X-A", "snow\u2603"]],
        ]
      ) {
        const [code, text] = await replay(origin, "3", { headers });
        equal(code, 400, `${JSON.stringify(headers)}: ${text}`);
        match(text, /Cannot replay: header/);
      }
      const [badMethod, methodText] = await replay(origin, "3", {
        method: `GET http://127.0.0.1:${c}/`,
      });
      equal(badMethod, 400);
      match(methodText, /method must be an HTTP token/);
      // A CONNECT reaches the app's address, and Deno.serve refuses it before the app runs.
      const [connect, connectText] = await replay(origin, "3", { method: "CONNECT", target: "/" });
      equal(connect, 502, connectText);
      match(connectText, /refused the request before the app ran/);
    });
    // Let any connection the replays made arrive before counting.
    await new Promise((r) => setTimeout(r, 50));
    equal(bird.connections, 0, "the canary saw no connection");
  } finally {
    await bird.close();
  }
});

/** What one connection to a raw "app" carried: the request's bytes. */
interface Captured {
  bytes: Uint8Array;
}

/**
 * A raw TCP "app": reads one request (head, then `Content-Length` bytes),
 * keeps its exact bytes, answers with `answer` and closes.
 */
function rawApp(answer: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const captured: Captured[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      captured.push({ bytes: await readRawRequest(conn) });
      const bytes = Uint8Array.from(answer, (ch) => ch.charCodeAt(0));
      // Slowly, in pieces, so that the reader must put the response together.
      for (let i = 0; i < bytes.length; i += 7) await conn.write(bytes.subarray(i, i + 7));
      conn.close();
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    captured,
    async close() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

/**
 * Records requests sent to a real app server (raw, with PORT replaced by its
 * port, or by a function given its URL), then replays them to a raw listener.
 */
async function recordThenReplay(
  requests: (string | ((appUrl: string) => Promise<unknown>))[],
  answer: string,
  fn: (
    ctx: {
      replay: (id: string, edit?: unknown) => Promise<[number, string]>;
      captured: Captured[];
      detail: (id: string) => ExchangeDetail;
      appPort: number;
    },
  ) => Promise<void>,
) {
  const store = new ExchangeStore();
  const server = serve(echoApp, {
    port: 0,
    log: false,
    errors: new MemorySink(),
    recorder: store,
  });
  const raw = rawApp(answer);
  const api = createApi({ store, appUrl: raw.url });
  try {
    for (const request of requests) {
      if (typeof request === "function") {
        await request(server.url);
        continue;
      }
      const response = await rawRequest(server.port, request.replaceAll("PORT", `${server.port}`));
      ok(response.status < 300, response.text);
    }
    await fn({
      appPort: server.port,
      captured: raw.captured,
      detail: (id) => store.get(id)!.detail(),
      async replay(id, edit = {}) {
        const response = await api.fetch(
          new Request(`http://127.0.0.1:8001/api/exchanges/${id}/replay`, {
            method: "POST",
            body: JSON.stringify(edit),
          }),
        );
        return [response.status, await response.text()];
      },
    });
  } finally {
    api.close();
    await server.shutdown();
    await raw.close();
  }
}

const OK = "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nfine.";

Deno.test("replay sends exactly the recorded method, target, headers and body, plus the link", async () => {
  const body = "name=Ada&x=%20";
  const original = [
    "POST /orig/%2e%2e/p?q=1&r=%20 HTTP/1.1",
    "Host: 127.0.0.1:PORT",
    "X-Zeta: last",
    "Content-Type: application/x-www-form-urlencoded",
    "Accept: */*",
    "X-Alpha: 1",
    "X-Alpha: 2",
    "Cookie: a=1; b=2",
    `Content-Length: ${body.length}`,
    "Connection: close",
    "",
    body,
  ].join("\r\n");
  await recordThenReplay([original], OK, async ({ replay, captured, detail, appPort }) => {
    const [status, text_] = await replay("1");
    // The raw "app" records nothing, so the replay answers 502 naming the status it got.
    equal(status, 502, text_);
    match(text_, /Replay answered 201 but was not recorded/);
    equal(captured.length, 1);
    const sent = latin1(captured[0]!.bytes);
    const recorded = detail("1");
    // What Deno.serve handed the gateway, in its order: names in lower case, repeats joined.
    const expected = [
      "POST /orig/%2e%2e/p?q=1&r=%20 HTTP/1.1",
      "accept: */*",
      "connection: close",
      `content-length: ${body.length}`,
      "content-type: application/x-www-form-urlencoded",
      "cookie: a=1; b=2",
      `host: 127.0.0.1:${appPort}`,
      "x-alpha: 1, 2",
      "x-zeta: last",
    ].join("\r\n");
    deepEqual(
      stateOf(recorded).request!.headers.map(([n, v]) => `${n}: ${v}`),
      expected.split("\r\n").slice(1),
    );
    const m = sent.match(/^([\s\S]*)\r\nx-wsgi-inspector-replay: (1; [\w-]+)\r\n\r\n([\s\S]*)$/);
    ok(m, `the link header comes last, then the body: ${JSON.stringify(sent)}`);
    equal(m[1], expected, "the request line and every recorded header, in order, nothing added");
    equal(m[3], body, "the body as recorded");
    for (const added of ["accept-encoding", "accept-language", "user-agent", "transfer-encoding"]) {
      equal(sent.toLowerCase().includes(`\r\n${added}:`), false, `no ${added}`);
    }
  });
});

Deno.test("replay frames the body with a correct Content-Length, never chunked", async () => {
  const chunked = [
    "PUT /chunked HTTP/1.1",
    "Host: 127.0.0.1:PORT",
    "Transfer-Encoding: chunked",
    "X-After: 1",
    "Connection: close",
    "",
    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
  ].join("\r\n");
  const binary = noise(70_000, 3);
  // Sent with fetch: the gateway keeps a raw client of a read upload this big waiting (issue 8).
  const big = async (url: string) =>
    await (await fetch(`${url}/big`, { method: "POST", body: binary })).arrayBuffer();
  await recordThenReplay([chunked, big], OK, async ({ replay, captured }) => {
    const [, first] = await replay("1");
    match(first, /answered 201/);
    const sent = latin1(captured[0]!.bytes);
    equal(
      sent.replace(/x-wsgi-inspector-replay: .*\r\n/, ""),
      "PUT /chunked HTTP/1.1\r\nconnection: close\r\nhost: 127.0.0.1:" +
        sent.match(/host: 127\.0\.0\.1:(\d+)/)![1] +
        "\r\ncontent-length: 11\r\nx-after: 1\r\n\r\nhello world",
      "Content-Length where Transfer-Encoding was, the body whole",
    );

    // An edit whose Content-Length is wrong gets the right one, and the change says so.
    const [, edited] = await replay("1", {
      body: "short",
      headers: [["Host", "h"], ["Content-Length", "999"], ["Transfer-Encoding", "chunked"]],
    });
    match(edited, /answered 201/);
    equal(
      latin1(captured[1]!.bytes).replace(/x-wsgi-inspector-replay: .*\r\n/, ""),
      "PUT /chunked HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nshort",
    );

    const [, second] = await replay("2");
    match(second, /answered 201/);
    const bytes = captured[2]!.bytes;
    const head = latin1(bytes.subarray(0, 2000));
    match(head, /^POST \/big HTTP\/1\.1\r\n(.*\r\n)*content-length: 70000\r\n/);
    const start = head.indexOf("\r\n\r\n") + 4;
    deepEqual(bytes.subarray(start), binary, "binary body byte for byte");
  });
});

Deno.test("replay reads the app's answer however it is framed", async () => {
  const original = "GET /a HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nConnection: close\r\n\r\n";
  const answers: [string, number][] = [
    ["HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 200],
    [
      "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n",
      202,
    ],
    ["HTTP/1.1 203 Non-Authoritative\r\n\r\nuntil the end", 203],
    [
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
      204,
    ],
    ["HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404],
  ];
  for (const [answer, code] of answers) {
    await recordThenReplay([original], answer, async ({ replay }) => {
      const [status, body] = await replay("1");
      equal(status, 502);
      match(body, new RegExp(`Replay answered ${code} but was not recorded`), answer);
    });
  }
  for (
    const [answer, why] of [
      ["SSH-2.0-OpenSSH\r\n\r\n", /status line is not HTTP/],
      ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", /ended 7 bytes before the body's end/],
      [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        /chunk size is not hexadecimal/,
      ],
    ] as const
  ) {
    await recordThenReplay([original], answer, async ({ replay }) => {
      const [status, body] = await replay("1");
      equal(status, 502);
      match(body, /did not answer/);
      match(body, why);
    });
  }
});

Deno.test("an edited replay answers its changes against the recorded request", async () => {
  await withInspector(echoApp, async ({ app, origin }) => {
    await rawRequest(
      app.port,
      `POST /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${app.port}\r\nContent-Type: text/plain\r\nX-Keep: k\r\nX-Drop: d\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
    );
    const [code, same] = await replay(origin, "1", {});
    equal(code, 200, same);
    deepEqual(JSON.parse(same), { id: "2", status: 200, changes: [] });

    const [code2, edited] = await replay(origin, "1", {
      method: "PUT",
      target: "/echo?x=2",
      headers: [
        ["Host", `127.0.0.1:${app.port}`],
        ["Content-Type", "application/json"],
        ["X-Keep", "k"],
        ["X-New", "n"],
        ["Connection", "close"],
      ],
      body: '{"a":1}',
    });
    equal(code2, 200, edited);
    const result = JSON.parse(edited) as ReplayResult;
    deepEqual(
      result.changes,
      [
        { part: "method", from: "POST", to: "PUT" },
        { part: "target", from: "/echo?x=1", to: "/echo?x=2" },
        { part: "header", name: "content-length", from: "5", to: "7" },
        { part: "header", name: "content-type", from: "text/plain", to: "application/json" },
        { part: "header", name: "x-drop", from: "d", to: null },
        { part: "header", name: "x-new", from: null, to: "n" },
        { part: "body", from: 5, to: 7 },
      ] satisfies ReplayChange[],
    );
    const detail = await (await fetch(`${origin}/api/exchanges/${result.id}`))
      .json() as ExchangeDetail;
    equal(detail.replayOf, "1");
    equal(detail.method, "PUT");
    equal(text(Uint8Array.fromBase64(detail.request.body.bytes)), '{"a":1}');
  });
});
