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
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
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

/**
 * Reads one HTTP/1.1 request off `conn` as the server side of a raw test
 * listener: its exact bytes, the head and then `Content-Length` bytes of
 * body (or what came before the client closed).
 */
export async function readRawRequest(conn: Deno.Conn): Promise<Uint8Array> {
  const decoder = new TextDecoder("latin1");
  let got = new Uint8Array(0);
  const chunk = new Uint8Array(65536);
  let end = -1;
  for (;;) {
    if (end === -1) {
      const head = decoder.decode(got).indexOf("\r\n\r\n");
      if (head !== -1) {
        const m = decoder.decode(got.subarray(0, head)).match(/\r\ncontent-length: *(\d+)/i);
        end = head + 4 + Number(m?.[1] ?? 0);
      }
    }
    if (end !== -1 && got.length >= end) return got;
    const n = await conn.read(chunk);
    if (n === null) return got;
    const next = new Uint8Array(got.length + n);
    next.set(got);
    next.set(chunk.subarray(0, n), got.length);
    got = next;
  }
}

/** A bodiless request over a fresh connection that the server closes after answering. */
export function request(port: number, method: string, target: string): Promise<RawResponse> {
  return rawRequest(port, `${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
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

import type { EventMap, EventType, ExchangeRecorder, Recorder } from "../server/recorder.ts";

/** One recorded event, as {@linkcode EventLog} keeps it. */
export interface LoggedEvent {
  type: EventType;
  data: EventMap[EventType];
  /** The gateway's clock reading for it. */
  time: number | undefined;
}

/** A recorder that keeps every event of every exchange, in order (copying bytes). */
export class EventLog implements Recorder {
  exchanges: LoggedEvent[][] = [];
  /** The arrival time `begin()` got, per exchange. */
  began: (number | undefined)[] = [];
  begin(_request: Request, time?: number): ExchangeRecorder {
    const events: LoggedEvent[] = [];
    this.exchanges.push(events);
    this.began.push(time);
    return {
      record(type, data, time) {
        const copy = { ...data } as Record<string, unknown>;
        if (copy.bytes instanceof Uint8Array) copy.bytes = copy.bytes.slice();
        events.push({ type, data: copy as EventMap[EventType], time });
      },
    };
  }
  /** The event types of exchange `i`, in order. */
  types(i = 0): EventType[] {
    return (this.exchanges[i] ?? []).map((e) => e.type);
  }
  /** The events of exchange `i` of one type. */
  of<K extends EventType>(type: K, i = 0): EventMap[K][] {
    return (this.exchanges[i] ?? []).filter((e) => e.type === type).map((e) =>
      e.data as EventMap[K]
    );
  }
}

/** A child process of the CLI, with its output collected as it comes. */
export interface Child {
  /** The app's URL, scraped from "Serving HTTP on URL ...". */
  url: string;
  /** The inspector's URL, when it printed one. */
  inspectorUrl?: string;
  /** Everything printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Stops it with SIGINT (SIGKILL after `grace` ms) and returns its exit code. */
  stop(grace?: number): Promise<number>;
  process: Deno.ChildProcess;
}

/** The repository root, as a path. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** Collects a byte stream into a growing string, calling `onText` on each piece. */
async function collect(
  stream: ReadableStream<Uint8Array>,
  onText: (t: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
}

/**
 * Runs `deno <args>` in the repository root until it prints a line matching
 * `ready` (or exits), dumping its output on failure. Always stop() it.
 * `wrapper` runs deno through a command that execs it (`["unshare", "-rn"]`),
 * so that the child's pid is still deno's.
 */
export async function spawnDeno(
  args: string[],
  ready = /Serving HTTP on (\S+)/,
  timeout = 20_000,
  wrapper: string[] = [],
): Promise<Child> {
  const [command, ...before] = [...wrapper, Deno.execPath()];
  const process = new Deno.Command(command!, {
    args: [...before, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let all = "";
  let resolveReady!: (m: RegExpMatchArray | null) => void;
  const readyPromise = new Promise<RegExpMatchArray | null>((r) => (resolveReady = r));
  const onText = (t: string) => {
    all += t;
    const m = all.match(ready);
    if (m) resolveReady(m);
  };
  const done = Promise.all([collect(process.stdout, onText), collect(process.stderr, onText)]);
  const status = process.status.then((s) => {
    resolveReady(null);
    return s;
  });
  const timer = setTimeout(() => resolveReady(null), timeout);
  const m = await readyPromise;
  clearTimeout(timer);
  const stop = async (grace = 5000) => {
    try {
      process.kill("SIGINT");
    } catch {
      // already gone
    }
    // A graceful shutdown may wait on a client's idle keep-alive connection.
    const force = setTimeout(() => {
      try {
        process.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, grace);
    const s = await status;
    clearTimeout(force);
    await done;
    return s.code;
  };
  if (!m) {
    await stop();
    throw new Error(`deno ${args.join(" ")} did not become ready; its output:\n${all}`);
  }
  const inspector = all.match(/Inspector on (\S+)/);
  return { url: m[1]!, inspectorUrl: inspector?.[1], output: () => all, stop, process };
}

/** Runs `deno <args>` to completion and returns its exit code and output. */
export async function runDeno(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}
