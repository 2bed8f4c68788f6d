/**
 * The largest id a message can have: the id columns are knex `increments()`, a 32-bit `integer`
 * (`serial`) on PostgreSQL, which refuses a larger number in a query with an error (a 500).
 * SQLite would take it; the same bound keeps both databases alike.
 */
export const MAX_MESSAGE_ID = 2_147_483_647;

/**
 * A message's id (inbound or outbound) as a request writes it, `120` of `out-120`: decimal digits
 * for a number from 1 to MAX_MESSAGE_ID, else undefined. Every route reads ids through this, and
 * says what an undefined is: no such message (404) in a path, a bad parameter (400) in a query.
 */
export function parseMessageId(text: string): number | undefined {
  // Ten digits cover the range (leading zeros included) and keep Number() exact.
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const id = Number(text);
  return id >= 1 && id <= MAX_MESSAGE_ID ? id : undefined;
}
