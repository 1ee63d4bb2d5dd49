// The organization view: what an org admin (or the platform owner) sees for one org.
import { api } from "./api";
import { COLORS, renderChart } from "./charts";
import { clear, h } from "./dom";
import { daysBetween, formatAge, formatChange, formatInt, formatPercent, formatShortDay, formatTimestamp } from "./format";
import { figure, genericResult, panel, rankedList } from "./panel";
import type { Filters } from "./state";

interface Metric {
  current: number;
  previous: number;
  change_pct: number | null;
}
interface Summary {
  range: { start_date: string; end_date: string };
  previous_range: { start_date: string; end_date: string };
  metrics: Record<"logins" | "active_users" | "new_users" | "returning_users" | "failed_logins" | "machine_identities_active", Metric>;
}
interface ActiveUsers {
  days: { date: string; dau: number; wau: number; mau: number }[];
  summary: { active_users: number; average_stickiness: number | null };
}
interface UserGrowth {
  days: { date: string; new_users: number; returning_users: number; total_users: number }[];
}
interface Lifecycle {
  weeks: { week: string; week_start: string; new: number; returning: number; resurrecting: number; dormant: number }[];
}
interface Retention {
  cohorts: { cohort: string; week_start: string; size: number; retention: { week: number; active: number; rate: number }[] }[];
}
interface RecentLogin {
  id: string;
  user_id: string;
  service_id: string;
  provider: string;
  created_at: string;
}

const RECENT_PAGE = 25;
/** Optional endpoints (issue: governance), shown when this deployment's OpenAPI document lists them. */
const GOVERNANCE = [
  { path: "dormancy", title: "Dormant identities", sub: "Identities without a login for the org's first threshold (default 30 days), machines overdue for their usual cadence, and inventory never seen." },
  { path: "reactivations", title: "Reactivations", sub: "Logins by identities whose previous login was at least the dormancy threshold earlier, in this range." },
];

const identityChip = (f: Filters) => (f.identity === "human" ? "People only" : f.identity === "machine" ? "Machines only" : undefined);

export function renderOrgView(main: HTMLElement, org: string, f: Filters, served: Set<string>, signal: AbortSignal, cleanups: (() => void)[]) {
  const base = `/api/organizations/${encodeURIComponent(org)}/analytics`;
  const range = `start_date=${f.start}&end_date=${f.end}`;
  const typed = f.identity === "all" ? range : `${range}&identity_type=${f.identity}`;
  const get = <T>(path: string) => api<T>(`${base}/${path}`, { signal }).then((a) => a.body);
  const chip = identityChip(f);

  const kpis = panel("summary", "Overview", "This range against the previous range of the same length.", { wide: true, chip });
  const trend = panel("login-trends", "Logins per day", "Successful logins per UTC day, all identities.", { wide: true });
  const active = panel("active-users", "Active identities", "DAU, WAU (7 days) and MAU (30 days) ending each day; stickiness = DAU ÷ MAU.", { chip });
  const growth = panel("user-growth", "New vs returning", "Identities active each day: first login ever that day, or seen before.", { chip });
  const services = panel("logins-by-service", "Logins by service", "Successful logins per application, all identities.");
  const providers = panel("logins-by-provider", "Logins by provider", "Successful logins per sign-in method, all identities.");
  const lifecycle = panel("lifecycle", "Lifecycle", "Per ISO week: new, returning (also active the week before), resurrecting (back after a gap), and dormant below the axis (active the week before, not this week).", { wide: true, chip });
  const retention = panel("retention", "Retention", "Share of each weekly cohort (first login that week) with a login k weeks later.", { wide: true, chip });
  const recent = panel("recent-logins", "Recent logins", "Newest first, all time; page through older logins.", { wide: true });
  const governance = GOVERNANCE.filter((g) => served.has(`/api/organizations/{org_slug}/analytics/${g.path}`)).map((g) => ({ ...g, panel: panel(g.path, g.title, g.sub, { wide: true, chip }) }));

  clear(main, h("div", { class: "grid" }, kpis.root, trend.root, active.root, growth.root, services.root, providers.root, lifecycle.root, retention.root, recent.root, governance.map((g) => g.panel.root)));

  const chart = (p: { body: HTMLElement }, label: string, spec: Parameters<typeof renderChart>[2]) => {
    const fig = h("figure", { class: "chart" });
    clear(p.body, fig);
    cleanups.push(renderChart(fig, label, spec));
  };
  const rangeSpec = { start: f.start, end: f.end };

  kpis.load(async () => {
    const [s, au] = await Promise.all([get<Summary>(`summary?${typed}`), get<ActiveUsers>(`active-users?${typed}`)]);
    const m = s.metrics;
    kpis.root.querySelector(".panel-sub")!.textContent = `This range against the previous ${formatInt(daysBetween(s.previous_range.start_date, s.previous_range.end_date))} days (${formatShortDay(s.previous_range.start_date)} – ${formatShortDay(s.previous_range.end_date)}).`;
    const prev = "vs previous";
    const card = (key: keyof Summary["metrics"], label: string, goodWhenUp = true) => {
      const x = m[key];
      const direction = x.change_pct === null || x.change_pct === 0 ? "flat" : (x.change_pct > 0) === goodWhenUp ? "up" : "down";
      return figure(key, label, x.current, formatInt(x.current), { text: formatChange(x.change_pct, x.current), direction }, prev);
    };
    clear(
      kpis.body,
      h(
        "div",
        { class: "figures" },
        card("logins", "Logins"),
        card("active_users", "Active identities"),
        card("new_users", "New identities"),
        card("returning_users", "Returning identities"),
        card("machine_identities_active", "Active machine identities"),
        card("failed_logins", "Failed logins", false),
        figure("average_stickiness", "Stickiness (avg DAU ÷ MAU)", au.summary.average_stickiness, formatPercent(au.summary.average_stickiness)),
      ),
    );
  });

  trend.load(async () => {
    const rows = await get<{ date: string; count: number }[]>(`login-trends?${range}`);
    if (rows.length === 0) return false;
    const total = rows.reduce((a, r) => a + r.count, 0);
    chart(trend, `Logins per day, ${formatInt(total)} in total`, { kind: "bars", dates: rows.map((r) => r.date), range: rangeSpec, series: [{ label: "Logins", color: COLORS.primary, values: rows.map((r) => r.count) }] });
    trend.body.prepend(h("p", { class: "total" }, h("strong", { "data-total": total }, formatInt(total)), ` logins on ${formatInt(rows.length)} day${rows.length === 1 ? "" : "s"} with activity`));
  }, "No logins in this range.");

  active.load(async () => {
    const au = await get<ActiveUsers>(`active-users?${typed}`);
    if (au.days.every((d) => d.mau === 0)) return false;
    chart(active, "Daily, weekly and monthly active identities", {
      kind: "lines",
      dates: au.days.map((d) => d.date),
      range: rangeSpec,
      series: [
        { label: "DAU", color: COLORS.primary, values: au.days.map((d) => d.dau) },
        { label: "WAU", color: COLORS.sky, values: au.days.map((d) => d.wau) },
        { label: "MAU", color: COLORS.violet, values: au.days.map((d) => d.mau) },
      ],
    });
    active.body.prepend(
      h("p", { class: "total" }, h("strong", { "data-total": au.summary.active_users }, formatInt(au.summary.active_users)), " distinct identities active; average stickiness ", h("strong", {}, formatPercent(au.summary.average_stickiness))),
    );
  }, "No active identities in this range or the 30 days before it.");

  growth.load(async () => {
    const g = await get<UserGrowth>(`user-growth?${typed}`);
    if (g.days.every((d) => d.new_users + d.returning_users === 0)) return false;
    chart(growth, "New and returning identities per day", {
      kind: "stacked",
      dates: g.days.map((d) => d.date),
      range: rangeSpec,
      series: [
        { label: "Returning", color: COLORS.primary, values: g.days.map((d) => d.returning_users) },
        { label: "New", color: COLORS.green, values: g.days.map((d) => d.new_users) },
      ],
    });
    const last = g.days[g.days.length - 1];
    growth.body.prepend(h("p", { class: "total" }, h("strong", {}, formatInt(last.total_users)), ` identities known by ${formatShortDay(last.date)}`));
  }, "No active identities in this range.");

  const byName = async (p: typeof services, path: string, rowsOf: (body: never[]) => { key: string; label: string; sub?: string; count: number }[]) => {
    const body = await get<never[]>(`${path}?${range}`);
    if (body.length === 0) return false;
    const rows = rowsOf(body);
    const total = rows.reduce((a, r) => a + r.count, 0);
    clear(p.body, h("div", { class: "table-scroll" }, rankedList(rows, total, "Logins")));
  };
  services.load(
    () => byName(services, "logins-by-service", (b: { service_id: string; service_name: string; count: number }[]) => b.map((r) => ({ key: r.service_id, label: r.service_name, sub: r.service_name === r.service_id ? undefined : r.service_id, count: r.count }))),
    "No logins in this range.",
  );
  providers.load(() => byName(providers, "logins-by-provider", (b: { provider: string; count: number }[]) => b.map((r) => ({ key: r.provider, label: r.provider, count: r.count }))), "No logins in this range.");

  lifecycle.load(async () => {
    const l = await get<Lifecycle>(`lifecycle?${typed}`);
    if (l.weeks.every((w) => w.new + w.returning + w.resurrecting + w.dormant === 0)) return false;
    chart(lifecycle, "Weekly lifecycle: new, returning, resurrecting and dormant identities", {
      kind: "stacked",
      step: 7,
      xTitle: "Week (from Monday)",
      dates: l.weeks.map((w) => w.week_start),
      range: { start: l.weeks[0].week_start, end: l.weeks[l.weeks.length - 1].week_start },
      series: [
        { label: "Returning", color: COLORS.primary, values: l.weeks.map((w) => w.returning) },
        { label: "Resurrecting", color: COLORS.amber, values: l.weeks.map((w) => w.resurrecting) },
        { label: "New", color: COLORS.green, values: l.weeks.map((w) => w.new) },
      ],
      below: { label: "Dormant", color: COLORS.red, values: l.weeks.map((w) => w.dormant) },
    });
  }, "No activity in these weeks.");

  retention.load(async () => {
    const r = await get<Retention>(`retention?${typed}`);
    if (r.cohorts.length === 0) return false;
    const weeks = Math.max(0, ...r.cohorts.map((c) => c.retention.length));
    const cell = (rate: number, active: number) => {
      const td = h("td", { class: "heat num", title: `${formatInt(active)} identities` }, formatPercent(rate));
      td.style.setProperty("--heat", String(Math.min(1, rate)));
      if (rate >= 0.5) td.classList.add("dark");
      return td;
    };
    clear(
      retention.body,
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "retention", "data-cohorts": r.cohorts.length },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Cohort (week of)"), h("th", { scope: "col", class: "num" }, "Identities"), Array.from({ length: weeks }, (_, k) => h("th", { scope: "col", class: "num" }, `+${k + 1} wk`)))),
          h(
            "tbody",
            {},
            r.cohorts.map((c) =>
              h("tr", { "data-cohort": c.cohort }, h("th", { scope: "row" }, `${c.cohort} · ${formatShortDay(c.week_start)}`), h("td", { class: "num" }, formatInt(c.size)), c.retention.map((x) => cell(x.rate, x.active)), Array.from({ length: weeks - c.retention.length }, () => h("td", { class: "heat-none" }))),
            ),
          ),
        ),
      ),
    );
  }, "No identity had its first login in these weeks.");

  // Recent logins: cursor paging through the API's Link header; a stack of page URLs for "Newer".
  const pages: string[] = [`${base}/recent-logins?limit=${RECENT_PAGE}`];
  const showRecent = () =>
    recent.load(async () => {
      const { body, next } = await api<RecentLogin[]>(pages[pages.length - 1], { signal });
      if (body.length === 0 && pages.length === 1) return false;
      const older = h("button", { type: "button", class: "btn", disabled: !next, "data-action": "older" }, "Older →");
      const newer = h("button", { type: "button", class: "btn", disabled: pages.length === 1, "data-action": "newer" }, "← Newer");
      older.addEventListener("click", () => {
        if (!next) return;
        pages.push(next);
        void showRecent().then(() => recent.root.querySelector<HTMLButtonElement>('[data-action="older"]:not([disabled]), [data-action="newer"]')?.focus());
      });
      newer.addEventListener("click", () => {
        pages.pop();
        void showRecent().then(() => recent.root.querySelector<HTMLButtonElement>('[data-action="newer"]:not([disabled]), [data-action="older"]')?.focus());
      });
      clear(
        recent.body,
        h(
          "div",
          { class: "table-scroll" },
          h(
            "table",
            { class: "data recent", "data-page": pages.length },
            h("thead", {}, h("tr", {}, ["When (UTC)", "Identity", "Service", "Provider", "Event id"].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              {},
              body.map((r) => h("tr", { "data-id": r.id }, h("td", {}, h("time", { datetime: r.created_at }, formatTimestamp(r.created_at)), h("span", { class: "muted" }, ` · ${formatAge(r.created_at)}`)), h("td", {}, r.user_id), h("td", {}, r.service_id), h("td", {}, r.provider), h("td", { class: "mono" }, r.id))),
            ),
          ),
        ),
        h("div", { class: "pager" }, newer, h("span", { class: "muted", "aria-live": "polite" }, `Page ${pages.length}`), older),
      );
    }, "No logins yet.");
  void showRecent();

  for (const g of governance) {
    const query = g.path === "reactivations" ? typed : f.identity === "all" ? "" : `identity_type=${f.identity}`;
    g.panel.load(async () => {
      const result = genericResult(await get<unknown>(`${g.path}${query ? `?${query}` : ""}`));
      if (!result) return false;
      clear(g.panel.body, result.node);
    }, "Nothing to report.");
  }
}
