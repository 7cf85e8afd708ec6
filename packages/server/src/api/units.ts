/**
 * Units at the edge: the wire speaks E2B's seconds (`timeout`, `duration`); everything inside the server is in
 * milliseconds (`timeoutMs`). Routes and the service methods that take a wire body convert here, once.
 */

/** Seconds from the wire to milliseconds (undefined stays undefined: the callee's default applies). */
export function secondsToMs(seconds: number | null | undefined): number | undefined {
  // JSON bodies may say `null` (the field unset): the default applies, as for a missing field.
  return seconds === undefined || seconds === null ? undefined : seconds * 1000;
}
