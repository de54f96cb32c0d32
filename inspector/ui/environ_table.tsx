/**
 * The environ as PEP 3333 groups it: the CGI variables, the `HTTP_*` request
 * headers, and the `wsgi.*` and server keys (anything with a dot). Also the
 * small table that shows header lists.
 *
 * @module
 */

import { showValue } from "./format.ts";

/** One group of environ keys, sorted. */
export interface EnvironGroup {
  title: string;
  /** Test id of the group's table. */
  id: "cgi" | "http" | "wsgi";
  entries: [string, unknown][];
}

/**
 * Splits an environ snapshot into its three groups.
 *
 * @example
 * ```ts
 * import { groupEnviron } from "./environ_table.tsx";
 * const groups = groupEnviron({ PATH_INFO: "/", HTTP_HOST: "h", "wsgi.version": [1, 0] });
 * console.assert(groups.map((g) => g.entries.length).join() === "1,1,1");
 * ```
 */
export function groupEnviron(environ: Record<string, unknown>): EnvironGroup[] {
  const cgi: [string, unknown][] = [];
  const http: [string, unknown][] = [];
  const wsgi: [string, unknown][] = [];
  for (const key of Object.keys(environ).sort()) {
    const entry: [string, unknown] = [key, environ[key]];
    if (key.startsWith("HTTP_")) http.push(entry);
    else if (key.includes(".")) wsgi.push(entry);
    else cgi.push(entry);
  }
  return [
    { title: "CGI variables", id: "cgi", entries: cgi },
    { title: "HTTP_* (request headers)", id: "http", entries: http },
    { title: "wsgi.* and server keys", id: "wsgi", entries: wsgi },
  ];
}

/** The environ snapshot, grouped. */
export function EnvironTable({ environ }: { environ: Record<string, unknown> | null }) {
  if (!environ) return <p class="empty">The environ was not built yet.</p>;
  return (
    <div class="environ" data-testid="environ-table">
      {groupEnviron(environ).map((group) => (
        <section key={group.id}>
          <h4>
            {group.title} <span class="muted">{group.entries.length}</span>
          </h4>
          {group.entries.length === 0
            ? <p class="empty">None.</p>
            : (
              <table class="kv" data-testid={`environ-${group.id}`}>
                <tbody>
                  {group.entries.map(([key, value]) => (
                    <tr key={key} data-key={key}>
                      <th class="mono">{key}</th>
                      <td class="mono">
                        {value === "" ? <span class="muted">""</span> : showValue(value)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
        </section>
      ))}
    </div>
  );
}

/** A header list as a two-column table. */
export function HeadersTable(
  { headers, testid }: { headers: [string, string][]; testid?: string },
) {
  if (headers.length === 0) return <p class="empty">No headers.</p>;
  return (
    <table class="kv" data-testid={testid}>
      <tbody>
        {headers.map(([name, value], i) => (
          <tr key={i}>
            <th class="mono">{name}</th>
            <td class="mono">{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
