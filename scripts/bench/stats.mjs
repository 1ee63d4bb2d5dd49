export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}
export const median = (values) => percentile(values, 50);

export function fmtMs(ms) {
  if (!Number.isFinite(ms)) return "–";
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}
export function fmtRatio(x) {
  if (!Number.isFinite(x)) return "–";
  if (x >= 100) return `${x.toFixed(0)}x`;
  if (x >= 10) return `${x.toFixed(1)}x`;
  return `${x.toFixed(2)}x`;
}
export const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");

/** Plain-text table: columns [{ title, align: "l"|"r" }], rows of strings. */
export function table(columns, rows) {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => String(r[i]).length)));
  const cell = (text, i) => (columns[i].align === "l" ? String(text).padEnd(widths[i]) : String(text).padStart(widths[i]));
  const line = (cells) => `  ${cells.map(cell).join("  ")}`.trimEnd();
  return [line(columns.map((c) => c.title)), `  ${widths.map((w) => "─".repeat(w)).join("  ")}`, ...rows.map(line)].join("\n");
}
