/**
 * A brute-force model of every analytics endpoint, computed straight from the
 * list of posted events with plain loops — written independently of the SQL
 * under test, following the metric definitions in the README.
 */
import { expect } from "vitest";
import type { EventInput } from "./helpers";

const DAY = 86_400_000;
export const dayOfMs = (ms: number) => Math.floor(ms / DAY);
export const dateOf = (day: number) => new Date(day * DAY).toISOString().slice(0, 10);
const mondayOf = (day: number) => day - ((day + 3) % 7);

export interface StoredEvent extends Required<Pick<EventInput, "id" | "org" | "user_id" | "service_id" | "provider">> {
  identity_type: "human" | "machine";
  outcome: "success" | "failure";
  createdAt: number;
  day: number;
  seq: number;
  identity: string;
  service_name?: string;
  ip_address: string | null;
  country: string | null;
}

export class Oracle {
  readonly events: StoredEvent[] = [];
  private readonly seen = new Set<string>();
  private readonly serviceNames = new Map<string, string>();
  private seq = 0;

  /** Mirrors ingest: first event with an (org, id) wins; returns [accepted, duplicates]. */
  post(batch: EventInput[]): [number, number] {
    let accepted = 0;
    for (const e of batch) {
      if (e.service_name) this.serviceNames.set(`${e.org}|${e.service_id}`, e.service_name);
    }
    for (const e of batch) {
      const key = `${e.org}|${e.id}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      accepted++;
      const createdAt = Date.parse(e.created_at!);
      const identity_type = e.identity_type ?? "human";
      this.events.push({
        id: e.id,
        org: e.org,
        user_id: e.user_id,
        service_id: e.service_id,
        provider: e.provider.toLowerCase(),
        identity_type,
        outcome: e.outcome ?? "success",
        createdAt,
        day: dayOfMs(createdAt),
        seq: ++this.seq,
        identity: `${e.user_id}|${identity_type}`,
        ip_address: e.ip_address ?? null,
        country: e.country?.toUpperCase() ?? null,
      });
    }
    return [accepted, batch.length - accepted];
  }

  /** A service's name as loginsByService shows it (its id when none was ever sent). */
  serviceName(org: string, serviceId: string): string {
    return this.serviceNames.get(`${org}|${serviceId}`) ?? serviceId;
  }

  /** Organizations known without events (the identity inventory creates them too). */
  readonly knownOrgs = new Set<string>();

  orgs(): string[] {
    return [...new Set([...this.events.map((e) => e.org), ...this.knownOrgs])].sort();
  }

  logins(org?: string, type?: "human" | "machine", service?: string) {
    return this.events.filter(
      (e) => e.outcome === "success" && (!org || e.org === org) && (!type || e.identity_type === type) && (!service || e.service_id === service),
    );
  }

  private firstDays(org: string, type?: "human" | "machine") {
    const first = new Map<string, number>();
    for (const e of this.logins(org, type)) first.set(e.identity, Math.min(first.get(e.identity) ?? Infinity, e.day));
    return first;
  }

  private distinct(events: StoredEvent[], from: number, to: number) {
    return new Set(events.filter((e) => e.day >= from && e.day <= to).map((e) => e.identity));
  }

  loginTrends(org: string, s: number, e: number) {
    const counts = new Map<number, number>();
    for (const ev of this.logins(org)) if (ev.day >= s && ev.day <= e) counts.set(ev.day, (counts.get(ev.day) ?? 0) + 1);
    return [...counts].sort((a, b) => a[0] - b[0]).map(([d, count]) => ({ date: dateOf(d), count }));
  }

  private groupCount(org: string, s: number, e: number, key: (ev: StoredEvent) => string) {
    const counts = new Map<string, number>();
    for (const ev of this.logins(org)) if (ev.day >= s && ev.day <= e) counts.set(key(ev), (counts.get(key(ev)) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  loginsByService(org: string, s: number, e: number) {
    return this.groupCount(org, s, e, (ev) => ev.service_id).map(([id, count]) => ({
      service_id: id,
      service_name: this.serviceNames.get(`${org}|${id}`) ?? id,
      count,
    }));
  }

  loginsByProvider(org: string, s: number, e: number) {
    return this.groupCount(org, s, e, (ev) => ev.provider).map(([provider, count]) => ({ provider, count }));
  }

  /** Raw events before this time were pruned (retention): only recent-logins, which lists raw events, loses them. */
  retainedFrom = Number.NEGATIVE_INFINITY;

  recentLogins(org: string) {
    return this.logins(org)
      .filter((e) => e.createdAt >= this.retainedFrom)
      .sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq)
      .map((e) => ({
        id: e.id,
        user_id: e.user_id,
        service_id: e.service_id,
        provider: e.provider,
        created_at: new Date(e.createdAt).toISOString().replace(".000Z", "Z"),
      }));
  }

  activeUsers(org: string, s: number, e: number, type?: "human" | "machine", service?: string) {
    const events = this.logins(org, type, service);
    const days = [];
    for (let d = s; d <= e; d++) {
      days.push({
        date: dateOf(d),
        dau: this.distinct(events, d, d).size,
        wau: this.distinct(events, d - 6, d).size,
        mau: this.distinct(events, d - 29, d).size,
      });
    }
    const withMau = days.filter((d) => d.mau > 0);
    const stickiness =
      withMau.length === 0 ? null : Math.round((withMau.reduce((sum, d) => sum + d.dau / d.mau, 0) / withMau.length) * 10_000) / 10_000;
    return {
      start_date: dateOf(s),
      end_date: dateOf(e),
      days,
      summary: { active_users: this.distinct(events, s, e).size, average_stickiness: stickiness },
    };
  }

  userGrowth(org: string, s: number, e: number, type?: "human" | "machine") {
    const first = this.firstDays(org, type);
    const events = this.logins(org, type);
    const days = [];
    for (let d = s; d <= e; d++) {
      const active = this.distinct(events, d, d);
      const isNew = [...active].filter((id) => first.get(id) === d).length;
      days.push({
        date: dateOf(d),
        new_users: isNew,
        returning_users: active.size - isNew,
        total_users: [...first.values()].filter((f) => f <= d).length,
      });
    }
    return { start_date: dateOf(s), end_date: dateOf(e), days };
  }

  summary(org: string, s: number, e: number, type?: "human" | "machine") {
    const len = e - s + 1;
    const first = this.firstDays(org, type);
    const totals = (from: number, to: number) => {
      const logins = this.logins(org, type).filter((ev) => ev.day >= from && ev.day <= to);
      const failed = this.events.filter(
        (ev) => ev.org === org && ev.outcome === "failure" && (!type || ev.identity_type === type) && ev.day >= from && ev.day <= to,
      );
      const active = this.distinct(this.logins(org, type), from, to);
      const isNew = [...first.values()].filter((f) => f >= from && f <= to).length;
      const machine = type === "human" ? 0 : this.distinct(this.logins(org, "machine"), from, to).size;
      return { logins: logins.length, active: active.size, new: isNew, returning: active.size - isNew, failed: failed.length, machine };
    };
    const cur = totals(s, e);
    const prev = totals(s - len, s - 1);
    const pct = (a: number, b: number) => (b === 0 ? null : Math.round(((a - b) * 1000) / b) / 10);
    const m = (k: keyof typeof cur) => ({ current: cur[k], previous: prev[k], change_pct: pct(cur[k], prev[k]) });
    return {
      range: { start_date: dateOf(s), end_date: dateOf(e) },
      previous_range: { start_date: dateOf(s - len), end_date: dateOf(s - 1) },
      metrics: {
        logins: m("logins"),
        active_users: m("active"),
        new_users: m("new"),
        returning_users: m("returning"),
        failed_logins: m("failed"),
        machine_identities_active: m("machine"),
      },
    };
  }

  private activeInWeek(org: string, week: number, type?: "human" | "machine") {
    return this.distinct(this.logins(org, type), week, week + 6);
  }

  lifecycle(org: string, s: number, e: number, type?: "human" | "machine") {
    const first = this.firstDays(org, type);
    const weeks = [];
    for (let w = mondayOf(s); w <= mondayOf(e); w += 7) {
      const cur = this.activeInWeek(org, w, type);
      const prev = this.activeInWeek(org, w - 7, type);
      const row = { week: isoWeek(w), week_start: dateOf(w), new: 0, returning: 0, resurrecting: 0, dormant: 0 };
      for (const id of cur) {
        if (first.get(id)! >= w) row.new++;
        else if (prev.has(id)) row.returning++;
        else row.resurrecting++;
      }
      for (const id of prev) if (!cur.has(id)) row.dormant++;
      weeks.push(row);
    }
    return { start_date: dateOf(mondayOf(s)), end_date: dateOf(mondayOf(e) + 6), weeks };
  }

  retention(org: string, s: number, e: number, type?: "human" | "machine") {
    const first = this.firstDays(org, type);
    const lastWeek = mondayOf(e);
    const cohorts = [];
    for (let w = mondayOf(s); w <= lastWeek; w += 7) {
      const members = [...first].filter(([, f]) => mondayOf(f) === w).map(([id]) => id);
      if (members.length === 0) continue;
      const retention = [];
      for (let k = 1; w + 7 * k <= lastWeek; k++) {
        const active = this.activeInWeek(org, w + 7 * k, type);
        const n = members.filter((id) => active.has(id)).length;
        retention.push({ week: k, active: n, rate: Math.round((n / members.length) * 10_000) / 10_000 });
      }
      cohorts.push({ cohort: isoWeek(w), week_start: dateOf(w), size: members.length, retention });
    }
    return { start_date: dateOf(mondayOf(s)), end_date: dateOf(lastWeek + 6), cohorts };
  }

  platformLoginActivity(s: number, e: number) {
    const counts = new Map<number, number>();
    for (const ev of this.logins()) if (ev.day >= s && ev.day <= e) counts.set(ev.day, (counts.get(ev.day) ?? 0) + 1);
    return [...counts].sort((a, b) => a[0] - b[0]).map(([d, count]) => ({ date: dateOf(d), count }));
  }

  platformOverview(s: number, e: number) {
    const logins = this.logins();
    const key = (ev: StoredEvent) => `${ev.org}|${ev.identity}`;
    return {
      start_date: dateOf(s),
      end_date: dateOf(e),
      organizations: this.orgs().length,
      identities: new Set(logins.map(key)).size,
      active_identities: new Set(logins.filter((ev) => ev.day >= s && ev.day <= e).map(key)).size,
      logins: logins.filter((ev) => ev.day >= s && ev.day <= e).length,
    };
  }

  /** Sorted by `sort` (NULL lowest, as SQLite), ties by org slug ascending. */
  platformOrganizations(end: number, sort = "active_users", order: "asc" | "desc" = "desc") {
    const start = end - 27;
    const rows = this.orgs().map((org) => {
      const events = this.logins(org);
      const first = this.firstDays(org);
      const active = this.distinct(events, start, end);
      const prev = this.distinct(events, start - 28, start - 1).size;
      const isNew = [...first.values()].filter((f) => f >= start && f <= end).length;
      const last = events.reduce((m, ev) => Math.max(m, ev.createdAt), -1);
      return {
        org,
        active_users: active.size,
        previous_active_users: prev,
        active_users_change_pct: prev === 0 ? null : Math.round(((active.size - prev) * 1000) / prev) / 10,
        new_users: isNew,
        returning_users: active.size - isNew,
        returning_share: active.size === 0 ? null : Math.round(((active.size - isNew) / active.size) * 10_000) / 10_000,
        logins: events.filter((ev) => ev.day >= start && ev.day <= end).length,
        last_activity_at: last < 0 ? null : new Date(last).toISOString().replace(".000Z", "Z"),
      };
    });
    const key = (r: (typeof rows)[number]): number | string | null =>
      sort === "slug"
        ? r.org
        : sort === "active_users_change_pct"
          ? r.previous_active_users === 0 ? null : (r.active_users - r.previous_active_users) / r.previous_active_users
          : sort === "last_activity_at"
            ? r.last_activity_at === null ? null : Date.parse(r.last_activity_at)
            : (r[sort as "active_users" | "new_users" | "logins"] as number);
    const cmp = (x: number | string | null, y: number | string | null) =>
      x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1;
    return rows.sort((a, b) => (order === "asc" ? 1 : -1) * cmp(key(a), key(b)) || (a.org < b.org ? -1 : 1));
  }
}

/** ISO 8601 week label of the week starting on Monday `day`, via the Thursday rule. */
export function isoWeek(monday: number): string {
  const thursday = new Date((monday + 3) * DAY);
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * DAY)) + 1;
  return `${year}-W${String(week).padStart(2, "0")}`;
}

// ---- governance (issue 10) ----------------------------------------------------------------------

export type IdentityType = "human" | "machine";
export interface InventoryEntry {
  display_name: string | null;
  owner: string | null;
  createdAt: number;
  deprovisionedAt: number | null;
}
export interface GovernanceSettings {
  human: number[];
  machine: number[];
}

/** SQLite's BINARY collation: UTF-8 byte order (JS `<` compares UTF-16 code units). */
export function utf8Compare(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

const ts = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

/**
 * The governance part of the model: the inventory and settings as the API was told, and
 * dormancy / overdue / reactivations / health computed from the raw events with loops.
 */
export class GovernanceOracle {
  readonly inventory = new Map<string, InventoryEntry>();
  readonly settings = new Map<string, GovernanceSettings>();

  constructor(readonly events: Oracle) {}

  thresholds(org: string): GovernanceSettings {
    return this.settings.get(org) ?? { human: [30, 60, 90], machine: [30, 60, 90] };
  }

  putInventory(org: string, list: { user_id: string; identity_type?: IdentityType; display_name?: string; owner?: string; created_at?: string }[], now: number) {
    for (const i of list) {
      const key = `${org}|${i.user_id}|${i.identity_type ?? "human"}`;
      const old = this.inventory.get(key);
      this.inventory.set(key, {
        display_name: i.display_name ?? old?.display_name ?? null,
        owner: i.owner ?? old?.owner ?? null,
        createdAt: i.created_at !== undefined ? Date.parse(i.created_at) : (old?.createdAt ?? now),
        deprovisionedAt: null,
      });
    }
  }

  deprovision(org: string, userId: string, now: number, type?: IdentityType) {
    for (const t of type ? [type] : (["human", "machine"] as const)) {
      const key = `${org}|${userId}|${t}`;
      const known = this.inventory.get(key) ?? (this.events.events.some((e) => e.org === org && e.user_id === userId && e.identity_type === t) ? null : undefined);
      if (known === undefined) continue;
      this.inventory.set(key, known ? { ...known, deprovisionedAt: known.deprovisionedAt ?? now } : { display_name: null, owner: null, createdAt: now, deprovisionedAt: now });
    }
  }

  /** Every identity of the org (from any event or the inventory) that is not deprovisioned, with its logins. */
  private identities(org: string) {
    const out = new Map<string, { user_id: string; identity_type: IdentityType; logins: StoredEvent[]; inv?: InventoryEntry }>();
    for (const e of this.events.events) {
      if (e.org !== org) continue;
      const key = `${e.user_id}|${e.identity_type}`;
      const entry = out.get(key) ?? { user_id: e.user_id, identity_type: e.identity_type, logins: [] };
      if (e.outcome === "success") entry.logins.push(e);
      out.set(key, entry);
    }
    for (const [key, inv] of this.inventory) {
      const [o, user_id, identity_type] = key.split("|") as [string, string, IdentityType];
      if (o !== org) continue;
      const entry = out.get(`${user_id}|${identity_type}`) ?? { user_id, identity_type, logins: [] };
      entry.inv = inv;
      out.set(`${user_id}|${identity_type}`, entry);
    }
    return [...out.values()].filter((i) => !i.inv?.deprovisionedAt);
  }

  private static last(logins: StoredEvent[]) {
    return logins.reduce<StoredEvent | undefined>((m, e) => (!m || e.createdAt > m.createdAt || (e.createdAt === m.createdAt && e.seq > m.seq) ? e : m), undefined);
  }

  /** The dormancy endpoint's answer (every row, unpaged) as of day `today`. */
  dormancy(org: string, today: number, q: { days?: number; type?: IdentityType; status?: "dormant" | "never_seen" | "overdue" } = {}) {
    const th = this.thresholds(org);
    const applied = { human: q.days ?? th.human[0], machine: q.days ?? th.machine[0] };
    const rows: (Record<string, unknown> & { sort: number; user_id: string; identity_type: IdentityType })[] = [];
    const summary = {
      thresholds: th,
      dormant: { human: th.human.map((days) => ({ days, count: 0 })), machine: th.machine.map((days) => ({ days, count: 0 })) },
      never_seen: { human: 0, machine: 0 },
      dormant_services: 0,
    };
    for (const ident of this.identities(org)) {
      const last = GovernanceOracle.last(ident.logins);
      const base = {
        user_id: ident.user_id,
        identity_type: ident.identity_type,
        display_name: ident.inv?.display_name ?? null,
        owner: ident.inv?.owner ?? null,
      };
      if (!last) {
        if (!ident.inv) continue;
        summary.never_seen[ident.identity_type]++;
        const age = Math.max(0, today - dayOfMs(ident.inv.createdAt));
        if (q.status === "dormant" || q.status === "overdue") continue;
        rows.push({ status: "never_seen", ...base, last_login_at: null, days_dormant: null, age_days: age, last_service_id: null, last_provider: null, logins: 0, median_gap_days: null, overdue_after_days: null, sort: age });
        continue;
      }
      const silence = today - last.day;
      for (const c of summary.dormant[ident.identity_type]) if (silence > c.days) c.count++;
      const common = { ...base, last_login_at: ts(last.createdAt), days_dormant: silence, age_days: null, last_service_id: last.service_id, last_provider: last.provider, logins: ident.logins.length };
      if (q.status === "overdue") {
        const cadence = this.cadence(ident.logins);
        if (ident.identity_type === "machine" && cadence && silence > Math.max(3 * cadence, 1)) {
          rows.push({ status: "overdue", ...common, median_gap_days: cadence, overdue_after_days: Math.max(3 * cadence, 1), sort: silence });
        }
        continue;
      }
      if (q.status === "never_seen") continue;
      if (silence > applied[ident.identity_type]) rows.push({ status: "dormant", ...common, median_gap_days: null, overdue_after_days: null, sort: silence });
    }
    const identities = rows
      .filter((r) => !q.type || r.identity_type === q.type)
      .sort((a, b) => b.sort - a.sort || utf8Compare(a.user_id, b.user_id) || utf8Compare(a.identity_type, b.identity_type))
      .map(({ sort, ...r }) => r);
    const serviceDays = Math.min(applied.human, applied.machine);
    const lastBy = new Map<string, number>();
    for (const e of this.events.logins(org)) lastBy.set(e.service_id, Math.max(lastBy.get(e.service_id) ?? -Infinity, e.day));
    const dormant_services = [...lastBy]
      .filter(([, day]) => day < today - serviceDays)
      .sort((a, b) => a[1] - b[1] || utf8Compare(a[0], b[0]))
      .map(([service_id, day]) => ({ service_id, service_name: this.events.serviceName(org, service_id), last_login_date: dateOf(day), days_dormant: today - day }));
    summary.dormant_services = dormant_services.length;
    return {
      as_of: dateOf(today),
      days: { ...applied, services: serviceDays },
      identity_type: q.type ?? "all",
      status: q.status ?? null,
      summary,
      identities,
      dormant_services,
    };
  }

  /**
   * Reactivations with a login day in [s, e]: for each identity, each first login of a day whose
   * previous login day is at least the type's first threshold earlier (deprovisioned identities
   * included: it is history). Newest first, then user_id, then type.
   */
  reactivations(org: string, s: number, e: number, type?: IdentityType) {
    const th = this.thresholds(org);
    const byIdentity = new Map<string, StoredEvent[]>();
    for (const ev of this.events.logins(org, type)) byIdentity.set(ev.identity, [...(byIdentity.get(ev.identity) ?? []), ev]);
    const rows: { user_id: string; identity_type: IdentityType; gap_days: number; previous_login_at: string; login_at: string; service_id: string; provider: string; ip_address: string | null; country: string | null; at: number }[] = [];
    for (const logins of byIdentity.values()) {
      logins.sort((a, b) => a.createdAt - b.createdAt || a.seq - b.seq);
      const days = [...new Set(logins.map((l) => l.day))].sort((a, b) => a - b);
      for (let i = 1; i < days.length; i++) {
        const gap = days[i] - days[i - 1];
        const first = logins.find((l) => l.day === days[i])!;
        if (gap < th[first.identity_type][0] || days[i] < s || days[i] > e) continue;
        const previous = Math.max(...logins.filter((l) => l.day === days[i - 1]).map((l) => l.createdAt));
        rows.push({
          user_id: first.user_id,
          identity_type: first.identity_type,
          gap_days: gap,
          previous_login_at: ts(previous),
          login_at: ts(first.createdAt),
          service_id: first.service_id,
          provider: first.provider,
          ip_address: first.ip_address,
          country: first.country,
          at: first.createdAt,
        });
      }
    }
    return rows
      .sort((a, b) => b.at - a.at || utf8Compare(a.user_id, b.user_id) || utf8Compare(a.identity_type, b.identity_type))
      .map(({ at, ...r }) => r);
  }

  /** Median gap between consecutive distinct login days with at least 5 logins; undefined without a cadence. */
  cadence(logins: StoredEvent[]): number | undefined {
    if (logins.length < 5) return undefined;
    const days = [...new Set(logins.map((e) => e.day))].sort((a, b) => a - b);
    const gaps = days.slice(1).map((d, i) => d - days[i]).sort((a, b) => a - b);
    if (gaps.length === 0) return undefined;
    const mid = gaps.length >> 1;
    return gaps.length % 2 ? gaps[mid] : (gaps[mid - 1] + gaps[mid]) / 2;
  }
}

const HEALTH_ORDER = ["dormant", "expanding", "contracting", "stagnating", "fragmenting", "stable"] as const;

/**
 * Organization health as of day `end`, from raw events with loops, the rules written out
 * again from the README (not shared with src/governance/health.ts). `reason` is text: any string.
 */
export function healthOf(oracle: Oracle, org: string, end: number) {
  const start = end - 27;
  const prevStart = start - 28;
  const logins = oracle.logins(org);
  const first = new Map<string, number>();
  for (const e of logins) first.set(e.identity, Math.min(first.get(e.identity) ?? Infinity, e.day));
  const inW = new Map<string, number>();
  const inP = new Set<string>();
  for (const e of logins) {
    if (e.day >= start && e.day <= end) inW.set(e.identity, (inW.get(e.identity) ?? 0) + 1);
    if (e.day >= prevStart && e.day < start) inP.add(e.identity);
  }
  const active = inW.size;
  const previous = inP.size;
  const isNew = [...inW.keys()].filter((id) => first.get(id)! >= start).length;
  const resurrecting = [...inW.keys()].filter((id) => !inP.has(id) && first.get(id)! < start).length;
  const newlyDormant = [...inP].filter((id) => !inW.has(id)).length;
  const windowLogins = [...inW.values()].reduce((a, b) => a + b, 0);
  const topN = Math.floor(active / 10);
  const topLogins = [...inW.values()].sort((a, b) => b - a).slice(0, topN).reduce((a, b) => a + b, 0);
  const known = [...first.values()].filter((d) => d <= end).length;
  const returning = active - isNew;
  const r = (v: number, p: number) => Math.round(v * 10 ** p) / 10 ** p;
  let label: (typeof HEALTH_ORDER)[number];
  if (active === 0) label = "dormant";
  else if ((previous > 0 && (active - previous) * 10 >= previous) || previous === 0 || isNew * 10 >= active) label = "expanding";
  else if ((previous - active) * 10 >= previous) label = "contracting";
  else if (isNew === 0) label = "stagnating";
  else if ((topN > 0 && topLogins * 10 >= windowLogins * 8) || (known - active) * 2 > known) label = "fragmenting";
  else label = "stable";
  return {
    label,
    signup_without_return: active > 0 && isNew * 5 >= active && returning * 5 < active,
    reason: expect.any(String),
    inputs: {
      active,
      previous_active: previous,
      active_change_pct: previous === 0 ? null : r(((active - previous) * 100) / previous, 1),
      new: isNew,
      returning,
      resurrecting,
      newly_dormant: newlyDormant,
      quick_ratio: newlyDormant === 0 ? null : r((isNew + resurrecting) / newlyDormant, 4),
      logins: windowLogins,
      top_identities: topN,
      top_share: topN === 0 || windowLogins === 0 ? null : r(topLogins / windowLogins, 4),
      known,
      inactive_known: known - active,
    },
  };
}
