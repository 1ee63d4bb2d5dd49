// Charts are uPlot (canvas, ~50 KB, fast with thousands of points). Each chart also gets
// a data table in a <details> element: the same numbers for keyboard and screen-reader
// users, and `data-points` on the figure says how many x values the chart plots.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";
import { dateMs, formatDay, formatInt, formatShortDay } from "./format";

export const COLORS = {
  primary: "#4f46e5",
  sky: "#0ea5e9",
  violet: "#a855f7",
  green: "#10b981",
  amber: "#f59e0b",
  red: "#ef4444",
  slate: "#64748b",
};

export interface Series {
  label: string;
  color: string;
  values: number[];
}

interface ChartSpec {
  /** YYYY-MM-DD of each point (ascending). */
  dates: string[];
  /** The requested range, so days without data show as gaps at the ends too. */
  range: { start: string; end: string };
  series: Series[];
  kind: "bars" | "lines" | "stacked";
  /** Stacked charts: a series drawn below the axis (e.g. identities gone dormant). */
  below?: Series;
  /** Days per x step: 7 for weekly data. */
  step?: number;
  height?: number;
  /** Column title of the x values in the data table. */
  xTitle?: string;
}

const seconds = (date: string) => dateMs(date) / 1000;
const isoOf = (s: number) => new Date(s * 1000).toISOString().slice(0, 10);
const utc = (ts: number) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

function dataTable(spec: ChartSpec): HTMLElement {
  const columns = [...spec.series, ...(spec.below ? [spec.below] : [])];
  return h(
    "details",
    { class: "data-table" },
    h("summary", {}, "Data table"),
    h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, spec.xTitle ?? "Day (UTC)"), columns.map((s) => h("th", { scope: "col", class: "num" }, s.label)))),
        h(
          "tbody",
          {},
          spec.dates.map((d, i) => h("tr", {}, h("th", { scope: "row" }, formatDay(d)), columns.map((s) => h("td", { class: "num" }, formatInt(s.values[i]))))),
        ),
      ),
    ),
  );
}

/**
 * Renders a chart into `figure` (replacing what was there); returns a cleanup function.
 * `label` becomes the canvas's accessible name.
 */
export function renderChart(figure: HTMLElement, label: string, spec: ChartSpec): () => void {
  const plot = h("div", { class: "plot", role: "img", "aria-label": label });
  figure.replaceChildren(plot, dataTable(spec));
  figure.dataset.points = String(spec.dates.length);
  const height = spec.height ?? 220;
  const step = spec.step ?? 1;
  const xs = spec.dates.map(seconds);
  const halfStep = (step * 86_400) / 2;

  // Stacked: each drawn series is the running sum from the bottom, drawn top-first so the
  // lower ones paint over it; the legend shows each layer's own value.
  let drawn: Series[] = spec.series;
  if (spec.kind === "stacked") {
    const sums: Series[] = [];
    let acc = spec.dates.map(() => 0);
    for (const s of spec.series) {
      acc = acc.map((v, i) => v + s.values[i]);
      sums.push({ ...s, values: acc });
    }
    drawn = sums.reverse();
  }
  const raw = spec.kind === "stacked" ? [...spec.series].reverse() : spec.series;
  const bars = uPlot.paths.bars!({ size: [0.7, 48, 2], align: 0 });

  const series: uPlot.Series[] = [
    { label: spec.xTitle ?? "Day (UTC)", value: (_u, v) => (v == null ? "–" : step === 7 ? `week of ${formatShortDay(isoOf(v))}` : formatDay(isoOf(v))) },
    ...drawn.map((s, k) => ({
      label: s.label,
      stroke: s.color,
      width: spec.kind === "lines" ? 2 : 0,
      fill: spec.kind === "lines" ? undefined : s.color,
      paths: spec.kind === "lines" ? undefined : bars,
      points: { show: spec.kind === "lines" && spec.dates.length <= 45, size: 4 },
      value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) => (idx == null ? "–" : formatInt(raw[k].values[idx])),
    })),
  ];
  const data: uPlot.AlignedData = [xs, ...drawn.map((s) => s.values)];
  if (spec.below) {
    const below = spec.below;
    series.push({ label: below.label, stroke: below.color, width: 0, fill: below.color, paths: bars, points: { show: false }, value: (_u, _v, _si, idx) => (idx == null ? "–" : formatInt(below.values[idx])) });
    data.push(below.values.map((v) => -v));
  }

  const u = new uPlot(
    {
      width: Math.max(plot.clientWidth, 280),
      height,
      tzDate: utc,
      series,
      scales: {
        x: { time: true, range: () => [seconds(spec.range.start) - halfStep, seconds(spec.range.end) + halfStep] },
        y: { range: (_u, min, max) => [Math.min(0, min), Math.max(max, 1) * 1.08] },
      },
      axes: [
        { stroke: "#64748b", grid: { show: false }, ticks: { stroke: "#e2e8f0" } },
        { stroke: "#64748b", grid: { stroke: "#eef2f7" }, ticks: { show: false }, size: 56, values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? formatInt(Math.abs(t)) : "")) },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    },
    data,
    plot,
  );
  const resize = new ResizeObserver(() => {
    const width = Math.max(plot.clientWidth, 280);
    if (width !== u.width) u.setSize({ width, height });
  });
  resize.observe(plot);
  return () => {
    resize.disconnect();
    u.destroy();
  };
}
