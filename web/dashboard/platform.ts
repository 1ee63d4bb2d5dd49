// The platform view (platform-owner token): every customer organization at a glance.
import { api } from "./api";
import { COLORS, renderChart } from "./charts";
import { clear, h } from "./dom";
import { formatAge, formatChange, formatInt, formatPercent, formatShortDay } from "./format";
import { figure, genericResult, panel } from "./panel";
import type { Filters } from "./state";

interface Overview {
  organizations: number;
  identities: number;
  active_identities: number;
  logins: number;
}
export interface OrgRow {
  org: string;
  active_users: number;
  previous_active_users: number;
  active_users_change_pct: number | null;
  new_users: number;
  returning_users: number;
  returning_share: number | null;
  logins: number;
  last_activity_at: string | null;
  /** Present once organization health labels exist (governance). */
  health?: unknown;
}
interface Orgs {
  start_date: string;
  end_date: string;
  total: number;
  limit: number;
  offset: number;
  organizations: OrgRow[];
}

const PAGE = 20;
const COLUMNS: { key: string; title: string; sort?: string; numeric?: boolean }[] = [
  { key: "org", title: "Organization", sort: "slug" },
  { key: "active_users", title: "Active", sort: "active_users", numeric: true },
  { key: "change", title: "Change", sort: "active_users_change_pct", numeric: true },
  { key: "new_users", title: "New", sort: "new_users", numeric: true },
  { key: "returning_share", title: "Returning share", numeric: true },
  { key: "logins", title: "Logins", sort: "logins", numeric: true },
  { key: "last_activity_at", title: "Last login", sort: "last_activity_at" },
];

const healthLabel = (health: unknown): string | null =>
  typeof health === "string" ? health : health && typeof health === "object" && "label" in health ? String((health as { label: unknown }).label) : null;

export function renderPlatformView(main: HTMLElement, f: Filters, served: Set<string>, signal: AbortSignal, cleanups: (() => void)[], openOrg: (org: string) => void) {
  const range = `start_date=${f.start}&end_date=${f.end}`;
  const get = <T>(path: string) => api<T>(`/api/platform/analytics/${path}`, { signal }).then((a) => a.body);

  const overview = panel("platform-overview", "Platform", "Every organization, this range.", { wide: true });
  const activity = panel("login-activity", "Logins per day, all organizations", "Successful logins per UTC day.", { wide: true });
  const orgs = panel("organizations", "Organizations", `Engagement over the 28 days ending ${formatShortDay(f.end)} against the 28 days before; select a column to sort.`, { wide: true });
  const health = served.has("/api/platform/analytics/organization-health")
    ? panel("organization-health", "Organization health", "Each organization's trajectory label with the numbers that decided it.", { wide: true })
    : null;
  clear(main, h("div", { class: "grid" }, overview.root, activity.root, orgs.root, health?.root));

  overview.load(async () => {
    const o = await get<Overview>(`overview?${range}`);
    clear(
      overview.body,
      h(
        "div",
        { class: "figures" },
        figure("organizations", "Organizations", o.organizations, formatInt(o.organizations)),
        figure("identities", "Identities ever seen", o.identities, formatInt(o.identities)),
        figure("active_identities", "Active identities", o.active_identities, formatInt(o.active_identities)),
        figure("logins", "Logins", o.logins, formatInt(o.logins)),
      ),
    );
  });

  activity.load(async () => {
    const rows = await get<{ date: string; count: number }[]>(`login-activity?${range}`);
    if (rows.length === 0) return false;
    const total = rows.reduce((a, r) => a + r.count, 0);
    const fig = h("figure", { class: "chart" });
    clear(activity.body, h("p", { class: "total" }, h("strong", { "data-total": total }, formatInt(total)), " logins"), fig);
    cleanups.push(renderChart(fig, `Logins per day across all organizations, ${formatInt(total)} in total`, { kind: "bars", dates: rows.map((r) => r.date), range: { start: f.start, end: f.end }, series: [{ label: "Logins", color: COLORS.primary, values: rows.map((r) => r.count) }] }));
  }, "No logins in this range.");

  let sort = "active_users";
  let order: "asc" | "desc" = "desc";
  let offset = 0;
  const showOrgs = (focus?: string) =>
    orgs.load(async () => {
      const o = await get<Orgs>(`organizations?end_date=${f.end}&sort=${sort}&order=${order}&limit=${PAGE}&offset=${offset}`);
      if (o.total === 0) return false;
      const withHealth = o.organizations.some((r) => healthLabel(r.health) !== null);
      const head = COLUMNS.map((c) => {
        const active = c.sort === sort;
        const th = h("th", { scope: "col", class: c.numeric ? "num" : "", "aria-sort": active ? (order === "asc" ? "ascending" : "descending") : undefined });
        if (!c.sort) th.append(c.title);
        else {
          const button = h("button", { type: "button", class: "sort", "data-sort": c.sort }, c.title, h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (order === "asc" ? " ▲" : " ▼") : ""));
          button.addEventListener("click", () => {
            order = sort === c.sort ? (order === "desc" ? "asc" : "desc") : c.sort === "slug" ? "asc" : "desc";
            sort = c.sort!;
            offset = 0;
            void showOrgs(`[data-sort="${sort}"]`);
          });
          th.append(button);
        }
        return th;
      });
      const rows = o.organizations.map((r) => {
        const open = h("button", { type: "button", class: "link", "data-org": r.org }, r.org);
        open.addEventListener("click", () => openOrg(r.org));
        const label = healthLabel(r.health);
        const change = r.active_users_change_pct;
        return h(
          "tr",
          { "data-org": r.org },
          h("th", { scope: "row" }, open),
          h("td", { class: "num" }, formatInt(r.active_users)),
          h("td", { class: `num ${change === null ? "" : change > 0 ? "up" : change < 0 ? "down" : ""}` }, formatChange(change, r.active_users)),
          h("td", { class: "num" }, formatInt(r.new_users)),
          h("td", { class: "num" }, formatPercent(r.returning_share)),
          h("td", { class: "num" }, formatInt(r.logins)),
          h("td", {}, r.last_activity_at ? formatAge(r.last_activity_at) : "never"),
          withHealth ? h("td", {}, label ? h("span", { class: `label label-${label}` }, label) : "–") : null,
        );
      });
      const prev = h("button", { type: "button", class: "btn", disabled: offset === 0, "data-action": "previous" }, "← Previous");
      const next = h("button", { type: "button", class: "btn", disabled: offset + PAGE >= o.total, "data-action": "next" }, "Next →");
      prev.addEventListener("click", () => {
        offset = Math.max(0, offset - PAGE);
        void showOrgs('[data-action="previous"]');
      });
      next.addEventListener("click", () => {
        offset += PAGE;
        void showOrgs('[data-action="next"]');
      });
      clear(
        orgs.body,
        h(
          "div",
          { class: "table-scroll" },
          h("table", { class: "data orgs", "data-total": o.total }, h("thead", {}, h("tr", {}, head, withHealth ? h("th", { scope: "col" }, "Health") : null)), h("tbody", {}, rows)),
        ),
        h("div", { class: "pager" }, prev, h("span", { class: "muted", "aria-live": "polite" }, `${formatInt(offset + 1)}–${formatInt(offset + o.organizations.length)} of ${formatInt(o.total)}`), next),
      );
      if (focus) orgs.root.querySelector<HTMLElement>(`${focus}:not([disabled])`)?.focus();
    }, "No organizations yet.");
  void showOrgs();

  health?.load(async () => {
    const result = genericResult(await get<unknown>("organization-health"));
    if (!result) return false;
    clear(health.body, result.node);
  }, "No labels yet.");
}
