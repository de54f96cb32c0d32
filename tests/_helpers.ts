/**
 * Test helpers: real servers on ephemeral loopback ports, raw-socket requests,
 * and child processes of the CLI.
 *
 * @module
 */

import type { Application } from "../mod.ts";
import { serve, type ServeOptions, type Server } from "../server/serve.ts";

/** A sink that keeps what it is given, for asserting on logs and errors. */
export class MemorySink {
  text = "";
  write(text: string): void {
    this.text += text;
  }
  flush(): void {}
}

/**
 * Serves `app` on 127.0.0.1 on a free port for the duration of `fn`, quietly
 * (diagnostics go to a {@linkcode MemorySink}), and shuts it down after.
 */
export async function withServer(
  app: Application,
  fn: (server: Server, sink: MemorySink) => Promise<void>,
  options: ServeOptions = {},
): Promise<void> {
  const sink = new MemorySink();
  const server = serve(app, { port: 0, log: false, errors: sink, ...options });
  try {
    await fn(server, sink);
  } finally {
    await server.shutdown();
  }
}

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** A raw HTTP response: status line, headers (lowercased names), body bytes. */
export interface RawResponse {
  status: number;
  statusLine: string;
  headers: Map<string, string>;
  body: Uint8Array;
  /** The whole response as latin-1 text. */
  text: string;
}

/**
 * Sends raw bytes (a latin-1 string) to the server and reads until it closes
 * the connection: for targets `fetch` would normalise, and for framing checks.
 * Send `Connection: close` so the server ends the connection.
 */
export async function rawRequest(port: number, request: string): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(latin1(request));
  const bytes = new Uint8Array(await new Response(conn.readable).arrayBuffer());
  const text = String.fromCharCode(...bytes);
  const headEnd = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, headEnd).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return {
    status: Number(lines[0]!.split(" ")[1]),
    statusLine: lines[0]!,
    headers,
    body: bytes.subarray(headEnd + 4),
    text,
  };
}

/** Encodes text as UTF-8. */
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
/** Decodes UTF-8. */
export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true, or fails after `timeout` ms. */
export async function waitFor(
  check: () => boolean,
  timeout = 5000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}
