/** The most of `times` (ms, any order) that fall within any span of `spanMs`: the rate's busiest moment, as Twilio saw it. */
export function busiest(times: readonly number[], spanMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let first = 0, last = 0; last < sorted.length; last++) {
    while ((sorted[last] ?? 0) - (sorted[first] ?? 0) >= spanMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}
