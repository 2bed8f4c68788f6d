import { DateTime } from 'luxon';

/** A stored UTC instant shown as ISO 8601 with the library's offset (SPEC §7), or null. */
export function formatInstant(stored: string | null, zone: string): string | null {
  if (stored === null) return null;
  return DateTime.fromISO(stored, { zone: 'utc' }).setZone(zone).toISO();
}

/** Message ids in the API: one list holds both tables, so each id says which one it is from. */
export const inboundApiId = (id: number) => `in-${id}`;
export const outboundApiId = (id: number) => `out-${id}`;
