/**
 * A brute-force model of every analytics endpoint, computed straight from the
 * list of posted events with plain loops — written independently of the SQL
 * under test, following the metric definitions in the README.
 */
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
      });
    }
    return [accepted, batch.length - accepted];
  }

  orgs(): string[] {
    return [...new Set(this.events.map((e) => e.org))].sort();
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

  recentLogins(org: string) {
    return this.logins(org)
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
