/**
 * SQLite's ORDER BY for the values our queries sort on: NULL before any value, numbers by
 * value, text by code unit (BINARY collation; slugs and keys are ASCII). For sorts done in
 * the Worker that must agree with a statement's ORDER BY.
 */
export function compareSql(x: number | string | null, y: number | string | null): number {
  if (x === y) return 0;
  if (x === null) return -1;
  if (y === null) return 1;
  return x < y ? -1 : 1;
}
