/**
 * Watches the application module and its local import graph.
 *
 * The graph comes from `deno info --json MODULE` (every `file:` module it
 * reaches), read again after each reload, so that a new import is watched
 * from the next save on. The folders that hold those files are watched
 * (not the files: editors that save by writing a new file and renaming it
 * would leave a watch on the old one), and events for other files in them
 * are ignored. Events are collected for a few milliseconds after the first
 * one, since one save is often several events.
 *
 * @module
 */

import { dirname } from "node:path";

/** Reads the local files of a module's import graph with `deno info --json`. */
export async function localGraph(module: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", module],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).output();
  const files = new Set<string>();
  if (!out.success) return files;
  try {
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules?: { specifier?: string; local?: string }[];
    };
    for (const m of info.modules ?? []) {
      if (m.specifier?.startsWith("file:")) {
        files.add(m.local ?? decodeURIComponent(new URL(m.specifier).pathname));
      }
    }
  } catch {
    // Not JSON: keep what we had.
  }
  return files;
}

/** Options of {@linkcode ModuleWatcher}. */
export interface WatcherOptions {
  /** Milliseconds to gather events after the first (15 by default). */
  debounceMs?: number;
  /** Reads the graph (`deno info` by default; tests may pass their own). */
  graph?: (module: string) => Promise<Set<string>>;
}

/** Calls `onChange` with the changed files of a module's graph. */
export class ModuleWatcher {
  readonly #module: string;
  readonly #root: string;
  readonly #onChange: (files: string[], firstEventAt: number) => void;
  readonly #debounceMs: number;
  readonly #graph: (module: string) => Promise<Set<string>>;
  /** The files watched. */
  files = new Set<string>();
  #dirs = "";
  #fs: Deno.FsWatcher | undefined;
  #pending = new Set<string>();
  #firstAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /**
   * @param module the module's URL (`file:`)
   * @param onChange called with the changed paths and when the first event came (`performance.now()`)
   */
  constructor(
    module: string,
    onChange: (files: string[], firstEventAt: number) => void,
    options: WatcherOptions = {},
  ) {
    this.#module = module;
    this.#root = decodeURIComponent(new URL(module).pathname);
    this.#onChange = onChange;
    this.#debounceMs = options.debounceMs ?? 15;
    this.#graph = options.graph ?? localGraph;
    this.files = new Set([this.#root]);
    this.#watch();
  }

  /** Reads the graph again, and watches any new folder. Files once watched stay watched. */
  async refresh(): Promise<void> {
    const found = await this.#graph(this.#module);
    if (this.#closed) return;
    for (const file of found) this.files.add(file);
    this.#watch();
  }

  #watch(): void {
    const dirs = [...new Set([...this.files].map((f) => dirname(f)))].sort();
    const key = dirs.join("\n");
    if (key === this.#dirs) return;
    this.#dirs = key;
    this.#fs?.close();
    const existing = dirs.filter((d) => {
      try {
        return Deno.statSync(d).isDirectory;
      } catch {
        return false;
      }
    });
    const fs = Deno.watchFs(existing, { recursive: false });
    this.#fs = fs;
    (async () => {
      try {
        for await (const event of fs) {
          if (event.kind === "access" || event.kind === "other") continue;
          for (const path of event.paths) {
            if (this.files.has(path)) this.#changed(path);
          }
        }
      } catch {
        // Closed.
      }
    })();
  }

  #changed(path: string): void {
    if (this.#pending.size === 0) this.#firstAt = performance.now();
    this.#pending.add(path);
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const files = [...this.#pending];
      this.#pending.clear();
      if (!this.#closed) this.#onChange(files, this.#firstAt);
    }, this.#debounceMs);
  }

  /** Stops watching. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#fs?.close();
  }
}
