/**
 * Fails when a file imports across a layer it must not: `server/` never
 * imports `inspector/`, and `inspector/` imports nothing of `server/` but
 * `server/recorder.ts` (the recorder interface is the only thing they share,
 * and `server/` owns it); the page's browser code (`inspector/ui/`) imports
 * nothing of the Deno side but the wire types, the reducer and the rules a
 * request sent again must meet (`inspector/request_rules.ts`); and nothing in
 * `server/` or `inspector/` imports `mod.ts`, `examples/` or `tests/`.
 *
 * Run: `deno task lint:layers`.
 */

const rules: { from: string; forbidden: string[]; except?: string[] }[] = [
  { from: "server/", forbidden: ["inspector/", "mod.ts", "examples/", "tests/"] },
  {
    from: "inspector/",
    forbidden: ["server/", "mod.ts", "examples/", "tests/"],
    except: ["server/recorder.ts"],
  },
  {
    from: "inspector/ui/",
    forbidden: ["inspector/", "server/"],
    except: [
      "inspector/ui/",
      "inspector/protocol.ts",
      "inspector/timeline.ts",
      "inspector/request_rules.ts",
      "server/recorder.ts",
    ],
  },
];

const root = new URL("../", import.meta.url);
const problems: string[] = [];

async function* walk(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walk(url);
    else if (/\.(ts|tsx)$/.test(entry.name)) yield url;
  }
}

for (const rule of rules) {
  const dir = new URL(rule.from, root);
  try {
    await Deno.stat(dir);
  } catch {
    continue;
  }
  for await (const file of walk(dir)) {
    // Doc comments may show imports from the user's side; only code counts.
    const text = (await Deno.readTextFile(file)).split("\n")
      .filter((line) => !/^\s*(\*|\/\/)/.test(line)).join("\n");
    for (
      const m of text.matchAll(
        /(?:import|export)[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']/g,
      )
    ) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith(".")) continue;
      const target = new URL(spec, file).href.slice(root.href.length);
      if (rule.except?.some((ok) => target === ok || (ok.endsWith("/") && target.startsWith(ok)))) {
        continue;
      }
      for (const bad of rule.forbidden) {
        if (target === bad || target.startsWith(bad)) {
          problems.push(
            `${
              file.href.slice(root.href.length)
            } imports ${spec} (${rule.from} must not import ${bad})`,
          );
        }
      }
    }
  }
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  Deno.exit(1);
}
console.log("layers: ok");
