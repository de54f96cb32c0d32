/**
 * The C library through FFI, for the few socket calls Deno has no API for
 * (`./socket_lift.ts`, `./port_hold.ts`): opened once per set of symbols,
 * or the reason it cannot be (not Linux, no FFI permission, no glibc),
 * which the caller reports. Linux with glibc only.
 *
 * @module
 */

/** Why the C library cannot be had, said for `what` it was wanted. */
export interface NoLibc {
  reason: string;
}

/**
 * Opens `libc.so.6` with `symbols`, or says why it cannot for `what` (a
 * phrase such as "taking a socket from another process").
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
  what: string,
): Deno.DynamicLibrary<S>["symbols"] | NoLibc {
  if (Deno.build.os !== "linux") {
    return { reason: `${what} needs Linux (this is ${Deno.build.os})` };
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return { reason: `${what} needs the FFI permission (--allow-ffi)` };
  }
  try {
    return Deno.dlopen("libc.so.6", symbols).symbols;
  } catch (error) {
    return {
      reason: `cannot load the C library: ${error instanceof Error ? error.message : error}`,
    };
  }
}

/** The calling thread's `errno`, read through `__errno_location()`. */
export function errnoOf(c: { __errno_location(): Deno.PointerValue }): number {
  const p = c.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}
