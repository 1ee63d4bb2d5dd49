// A dashboard panel: a titled card whose body is loading, empty, failed or filled. Every
// panel loads on its own, so one slow or failing endpoint never blanks the page.
import { ApiFailure } from "./api";
import { clear, h } from "./dom";
import { formatValue, humanize } from "./format";

export interface Panel {
  root: HTMLElement;
  body: HTMLElement;
  /** Runs `load`; shows its loading, error or (when it returns false) empty state. */
  load(load: () => Promise<unknown>, empty?: string): Promise<void>;
}

export function panel(id: string, title: string, subtitle: string, opts: { wide?: boolean; chip?: string } = {}): Panel {
  const heading = `${id}-title`;
  const body = h("div", { class: "panel-body" });
  const root = h(
    "section",
    { class: `panel${opts.wide ? " wide" : ""}`, id: `panel-${id}`, "data-panel": id, "aria-labelledby": heading },
    h("header", { class: "panel-head" }, h("h2", { id: heading }, title, opts.chip ? h("span", { class: "chip" }, opts.chip) : null), h("p", { class: "panel-sub" }, subtitle)),
    body,
  );
  return {
    root,
    body,
    async load(load, empty = "Nothing in this range.") {
      root.setAttribute("aria-busy", "true");
      root.dataset.state = "loading";
      clear(body, h("div", { class: "skeleton", "aria-hidden": "true" }), h("p", { class: "sr-only" }, "Loading…"));
      try {
        const filled = await load();
        root.dataset.state = filled === false ? "empty" : "ready";
        if (filled === false) clear(body, h("p", { class: "empty" }, empty));
      } catch (err) {
        if (err instanceof DOMException && err.name === "AbortError") return;
        root.dataset.state = "error";
        const message = err instanceof ApiFailure ? `${err.message} (${err.code})` : "The request failed. Check your connection and try again.";
        clear(body, h("p", { class: "error", role: "alert" }, message));
      } finally {
        root.removeAttribute("aria-busy");
      }
    },
  };
}

/** A KPI figure: big number, label, optional change line. `value` is the exact number. */
export function figure(key: string, label: string, value: number | null, text: string, change?: { text: string; direction: "up" | "down" | "flat" }, note?: string) {
  return h(
    "div",
    { class: "figure", "data-figure": key, "data-value": value === null ? "" : String(value) },
    h("div", { class: "figure-label" }, label),
    h("div", { class: "figure-value" }, text),
    change ? h("div", { class: `figure-change ${change.direction}` }, change.text, note ? h("span", { class: "figure-note" }, ` ${note}`) : null) : note ? h("div", { class: "figure-change flat" }, note) : null,
  );
}

/** A ranked list with proportional bars (logins by service, by provider). */
export function rankedList(rows: { key: string; label: string; sub?: string; count: number }[], total: number, countTitle: string) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  return h(
    "table",
    { class: "ranked" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "num" }, countTitle), h("th", { scope: "col", class: "num" }, "Share"))),
    h(
      "tbody",
      {},
      rows.map((r) => {
        const bar = h("span", { class: "bar" });
        bar.style.width = `${(r.count / max) * 100}%`;
        return h(
          "tr",
          { "data-key": r.key, "data-count": r.count },
          h("th", { scope: "row" }, h("span", { class: "bar-track" }, bar), h("span", { class: "ranked-label" }, r.label), r.sub ? h("span", { class: "ranked-sub" }, r.sub) : null),
          h("td", { class: "num" }, new Intl.NumberFormat("en-US").format(r.count)),
          h("td", { class: "num" }, total > 0 ? `${((r.count / total) * 100).toFixed(1)}%` : "–"),
        );
      }),
    ),
  );
}

/**
 * An endpoint this page knows only from the OpenAPI document (governance, organization
 * health): numbers become figures and the first list becomes a table, with the API's
 * own field names. What the endpoint answers is what is shown; nothing is invented.
 */
export function genericResult(body: unknown): { node: HTMLElement; rows: number } | null {
  const figures: HTMLElement[] = [];
  let list: Record<string, unknown>[] | null = null;
  const visit = (value: unknown, path: string[]) => {
    if (Array.isArray(value)) {
      if (!list && value.every((v) => v !== null && typeof v === "object" && !Array.isArray(v))) list = value as Record<string, unknown>[];
      return;
    }
    if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) if (path.length < 3) visit(v, [...path, k]);
      return;
    }
    if (typeof value === "number" && figures.length < 12) {
      const key = path.join(".");
      figures.push(figure(key, path.map(humanize).join(" · "), value, formatValue(path[path.length - 1] ?? "", value)));
    }
  };
  visit(body, []);
  const rows = list as Record<string, unknown>[] | null;
  if (figures.length === 0 && (!rows || rows.length === 0)) return null;
  const columns = rows ? [...new Set(rows.slice(0, 50).flatMap((r) => Object.keys(r)))].slice(0, 10) : [];
  return {
    rows: rows?.length ?? 0,
    node: h(
      "div",
      {},
      figures.length > 0 ? h("div", { class: "figures compact" }, figures) : null,
      rows && rows.length > 0
        ? h(
            "div",
            { class: "table-scroll" },
            h(
              "table",
              { class: "data" },
              h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, humanize(c))))),
              h("tbody", {}, rows.slice(0, 100).map((r) => h("tr", {}, columns.map((c) => h("td", { class: typeof r[c] === "number" ? "num" : "" }, formatValue(c, r[c])))))),
            ),
          )
        : null,
    ),
  };
}
