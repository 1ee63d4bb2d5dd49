/**
 * CSV for spreadsheets (RFC 4180): a header row, CRLF line ends, a field quoted when it
 * holds a comma, a double quote, CR or LF (quotes doubled). Text cells that a spreadsheet
 * would run as a formula — starting with =, +, -, @, a tab or a carriage return — get a
 * leading apostrophe (OWASP's CSV-injection advice), so an identity named `=HYPERLINK(…)`
 * stays text. Numbers are written as numbers; null is an empty field.
 */

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: (string | number | boolean | null | undefined)[]): string {
  return `${values.map(csvField).join(",")}\r\n`;
}

/** A streamed CSV body: the header, then the rows in chunks, encoded as they are read. */
export function csvStream<T>(columns: readonly string[], rows: T[], cells: (row: T) => (string | number | boolean | null | undefined)[], chunk = 500): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next === 0) controller.enqueue(encoder.encode(csvLine([...columns])));
      const slice = rows.slice(next, next + chunk);
      next += chunk;
      if (slice.length > 0) controller.enqueue(encoder.encode(slice.map((r) => csvLine(cells(r))).join("")));
      if (next >= rows.length) controller.close();
    },
  });
}
