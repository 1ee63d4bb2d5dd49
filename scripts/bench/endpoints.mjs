// Every measured read, three ways:
//   ours(q, db, ctx)     the real query function from src/ (what the endpoint runs)
//   ref(run, ctx)        the reference implementation's query shapes: answered straight from
//                        raw login_events (the seed Analytics API for the four seed endpoints;
//                        the naive per-day COUNT(DISTINCT) shapes an implementation without
//                        rollups would use for the engagement and platform reads)
//   path(ctx)            the HTTP request for the runtime phase
// plus normalizers that put both answers in the same shape, so the bench can check that they
// are equal: a bench that returns wrong numbers is worthless.
//
// ctx: { slug, range: {start, end}, previous, weeks: {first, last}, orgWindow: {current, previous}, q }
// `run(sql, params)` executes one statement through the same D1 shim as ours and returns rows.

const DAY = 86_400_000;
const startMs = (day) => day * DAY;
const endMs = (day) => (day + 1) * DAY - 1;
const ORG = "(SELECT id FROM organizations WHERE slug = ?)";
/** For statements with numbered parameters: the slug is always ?1. */
const ORG1 = "(SELECT id FROM organizations WHERE slug = ?1)";
const plain = (rows) => rows.map((r) => ({ ...r }));

function dense(start, end, rows, key, fields, step = 1) {
  const by = new Map(rows.map((r) => [r[key], r]));
  const out = [];
  for (let k = start; k <= end; k += step) {
    const r = by.get(k);
    out.push({ [key]: k, ...Object.fromEntries(fields.map((f) => [f, r?.[f] ?? 0])) });
  }
  return out;
}

const dateOf = (day) => new Date(day * DAY).toISOString().slice(0, 10);
const isoDate = (ms) => {
  const iso = new Date(ms).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, 19)}Z` : iso;
};

/**
 * The context every read takes, for organization `slug` over the `days` days ending the day of
 * `now` — resolved as the routes resolve an explicit start_date/end_date — with the previous
 * range of the same length, its ISO weeks, and the organizations view's window and the one
 * before it.
 */
export function readContext(q, slug, now, days) {
  const today = q.dayOf(now);
  const range = q.resolveRange({ start_date: q.dayToDate(today - days + 1), end_date: q.dayToDate(today) }, now);
  const length = range.end - range.start + 1;
  const window = q.ORG_WINDOW_DAYS;
  const current = { start: today - window + 1, end: today };
  return {
    slug,
    now,
    range,
    previous: { start: range.start - length, end: range.start - 1 },
    weeks: { first: q.isoWeekStart(range.start), last: q.isoWeekStart(range.end) },
    orgWindow: { current, previous: { start: current.start - window, end: current.start - 1 } },
    dates: { start: q.dayToDate(range.start), end: q.dayToDate(range.end), days: length },
  };
}

export const ENDPOINTS = [
  // ---- the seed reference's endpoints (target: ≥ 100x) ----------------------------------
  {
    name: "login-trends",
    seed: true,
    path: (c) => `/api/organizations/${c.slug}/analytics/login-trends?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}`,
    ours: (q, db, c) => q.loginTrends(db, c.slug, c.range),
    normOurs: (rows) => rows.map((r) => ({ date: dateOf(r.day), count: r.count })),
    ref: (run, c) =>
      run(
        `SELECT DATE(created_at / 1000, 'unixepoch') AS date, COUNT(*) AS count FROM login_events
         WHERE org_id = ${ORG} AND outcome = 'success' AND created_at BETWEEN ? AND ?
         GROUP BY date ORDER BY date`,
        [c.slug, startMs(c.range.start), endMs(c.range.end)],
      ),
    normRef: plain,
  },
  {
    name: "logins-by-service",
    seed: true,
    path: (c) => `/api/organizations/${c.slug}/analytics/logins-by-service?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}`,
    ours: (q, db, c) => q.loginsByService(db, c.slug, c.range),
    normOurs: plain,
    ref: (run, c) =>
      run(
        `SELECT s.external_id AS service_id, COALESCE(s.name, s.external_id) AS service_name, COUNT(*) AS count
         FROM login_events e JOIN services s ON s.id = e.service_id
         WHERE e.org_id = ${ORG} AND e.outcome = 'success' AND e.created_at BETWEEN ? AND ?
         GROUP BY e.service_id ORDER BY count DESC, s.external_id ASC`,
        [c.slug, startMs(c.range.start), endMs(c.range.end)],
      ),
    normRef: plain,
  },
  {
    name: "logins-by-provider",
    seed: true,
    path: (c) => `/api/organizations/${c.slug}/analytics/logins-by-provider?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}`,
    ours: (q, db, c) => q.loginsByProvider(db, c.slug, c.range),
    normOurs: plain,
    ref: (run, c) =>
      run(
        `SELECT provider, COUNT(*) AS count FROM login_events
         WHERE org_id = ${ORG} AND outcome = 'success' AND created_at BETWEEN ? AND ?
         GROUP BY provider ORDER BY count DESC, provider ASC`,
        [c.slug, startMs(c.range.start), endMs(c.range.end)],
      ),
    normRef: plain,
  },
  {
    name: "recent-logins",
    seed: true,
    rawByDesign: true, // a raw-event read in both implementations: same index, ratio ≈ 1 expected
    path: (c) => `/api/organizations/${c.slug}/analytics/recent-logins?limit=10`,
    ours: (q, db, c) => q.recentLogins(db, c.slug, 10),
    normOurs: (rows) => rows.slice(0, 10).map((r) => ({ id: r.id, user_id: r.user_id, service_id: r.service_id, provider: r.provider, created_at: isoDate(r.created_at) })),
    ref: (run, c) =>
      run(
        `SELECT e.event_id AS id, i.user_id, s.external_id AS service_id, e.provider, e.created_at
         FROM login_events e JOIN identities i ON i.id = e.identity_id JOIN services s ON s.id = e.service_id
         WHERE e.org_id = ${ORG} AND e.outcome = 'success'
         ORDER BY e.created_at DESC, e.seq DESC LIMIT 10`,
        [c.slug],
      ),
    normRef: (rows) => rows.map((r) => ({ ...r, created_at: isoDate(r.created_at) })),
  },

  // ---- governance (issue 10): the naive shapes scan the org's raw events ------------------
  {
    name: "dormancy",
    path: (c) => `/api/organizations/${c.slug}/analytics/dormancy?limit=100`,
    // as of the range's last day (today), default thresholds (30 days), the first page
    ours: (q, db, c) => q.dormancy(db, c.slug, { asOf: c.range.end, limit: 100 }, c.range.end * DAY),
    normOurs: (r) => r.rows.slice(0, 100).map((x) => ({ user_id: x.user_id, identity_type: x.identity_type, days_dormant: x.days_dormant })),
    ref: (run, c) =>
      run(
        `SELECT i.user_id, i.identity_type, ?2 - MAX(e.created_at) / ${DAY} AS days_dormant
         FROM login_events e JOIN identities i ON i.id = e.identity_id
         WHERE e.org_id = ${ORG1} AND e.outcome = 'success'
         GROUP BY e.identity_id HAVING MAX(e.created_at) / ${DAY} < ?2 - 30
         ORDER BY days_dormant DESC, i.user_id, i.identity_type LIMIT 100`,
        [c.slug, c.range.end],
      ),
    normRef: plain,
  },
  {
    name: "reactivations",
    path: (c) => `/api/organizations/${c.slug}/analytics/reactivations?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}&limit=100`,
    ours: (q, db, c) => q.readReactivations(db, c.slug, c.range, { limit: 100 }),
    normOurs: (r) =>
      r.rows.slice(0, 100).map((x) => ({ user_id: x.user_id, identity_type: x.identity_type, gap_days: x.gap_days, previous_login_at: x.previous_login_at, login_at: x.login_at })),
    ref: (run, c) =>
      run(
        `WITH d AS (
           SELECT e.identity_id, e.created_at / ${DAY} AS day, MIN(e.created_at) AS first_at, MAX(e.created_at) AS last_at
           FROM login_events e WHERE e.org_id = ${ORG1} AND e.outcome = 'success' GROUP BY e.identity_id, day),
         g AS (SELECT identity_id, day, first_at, LAG(day) OVER w AS prev_day, LAG(last_at) OVER w AS prev_at FROM d
           WINDOW w AS (PARTITION BY identity_id ORDER BY day))
         SELECT i.user_id, i.identity_type, g.day - g.prev_day AS gap_days, g.prev_at AS previous_login_at, g.first_at AS login_at
         FROM g JOIN identities i ON i.id = g.identity_id
         WHERE g.prev_day IS NOT NULL AND g.day - g.prev_day >= 30 AND g.day BETWEEN ?2 AND ?3
         ORDER BY g.first_at DESC, i.user_id, i.identity_type LIMIT 100`,
        [c.slug, c.range.start, c.range.end],
      ),
    normRef: plain,
  },

  // ---- engagement: naive per-day shapes without rollups ---------------------------------
  {
    name: "active-users",
    path: (c) => `/api/organizations/${c.slug}/analytics/active-users?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}`,
    ours: (q, db, c) => q.activeUsers(db, c.slug, c.range, {}),
    normOurs: (r, c) => ({ days: dense(c.range.start, c.range.end, r.days, "day", ["dau", "wau", "mau"]), active_users: r.activeUsers }),
    ref: async (run, c) => {
      // For every day: three COUNT(DISTINCT) over the org's logins in [d, d], [d-6, d], [d-29, d].
      const distinctIn = (from) =>
        `(SELECT COUNT(DISTINCT identity_id) FROM login_events WHERE org_id = (SELECT id FROM org) AND outcome = 'success'
           AND created_at >= (${from}) * ${DAY} AND created_at < (d + 1) * ${DAY})`;
      const days = await run(
        `WITH RECURSIVE days(d) AS (SELECT ? UNION ALL SELECT d + 1 FROM days WHERE d < ?), org(id) AS (SELECT id FROM organizations WHERE slug = ?)
         SELECT CAST(d AS INTEGER) AS day, ${distinctIn("d")} AS dau, ${distinctIn("d - 6")} AS wau, ${distinctIn("d - 29")} AS mau FROM days`,
        [c.range.start, c.range.end, c.slug],
      );
      const total = await run(
        `SELECT COUNT(DISTINCT identity_id) AS n FROM login_events WHERE org_id = ${ORG} AND outcome = 'success' AND created_at BETWEEN ? AND ?`,
        [c.slug, startMs(c.range.start), endMs(c.range.end)],
      );
      return { days, total };
    },
    normRef: (r) => ({ days: plain(r.days), active_users: r.total[0].n }),
  },
  {
    name: "user-growth",
    path: (c) => `/api/organizations/${c.slug}/analytics/user-growth?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}`,
    ours: (q, db, c) => q.userGrowth(db, c.slug, c.range),
    normOurs: (r, c) => ({ days: dense(c.range.start, c.range.end, r.days, "day", ["new_users", "returning_users"]), known_before: r.knownBefore }),
    ref: async (run, c) => {
      // new on d: first login ever on d; returning on d = active on d − new on d.
      const firstCte = `first AS (SELECT identity_id, MIN(created_at) / ${DAY} AS day FROM login_events
          WHERE org_id = ${ORG} AND outcome = 'success' GROUP BY identity_id)`;
      const fresh = await run(`WITH ${firstCte} SELECT day, COUNT(*) AS new_users FROM first WHERE day BETWEEN ? AND ? GROUP BY day`, [c.slug, c.range.start, c.range.end]);
      const dau = await run(
        `SELECT created_at / ${DAY} AS day, COUNT(DISTINCT identity_id) AS dau FROM login_events
         WHERE org_id = ${ORG} AND outcome = 'success' AND created_at BETWEEN ? AND ? GROUP BY day`,
        [c.slug, startMs(c.range.start), endMs(c.range.end)],
      );
      const before = await run(`WITH ${firstCte} SELECT COUNT(*) AS n FROM first WHERE day < ?`, [c.slug, c.range.start]);
      const news = new Map(fresh.map((r) => [r.day, r.new_users]));
      const daily = dau.map((r) => ({ day: r.day, new_users: news.get(r.day) ?? 0, returning_users: r.dau - (news.get(r.day) ?? 0) }));
      return { daily, before };
    },
    normRef: (r, c) => ({ days: dense(c.range.start, c.range.end, r.daily, "day", ["new_users", "returning_users"]), known_before: r.before[0].n }),
  },
  {
    name: "summary",
    path: (c) => `/api/organizations/${c.slug}/analytics/summary?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}`,
    ours: (q, db, c) => q.summaryTotals(db, c.slug, c.range, c.previous),
    normOurs: (r) => ({ current: { ...r.current }, previous: { ...r.previous } }),
    ref: async (run, c) => {
      const totals = (range) =>
        run(
          `WITH first AS (SELECT identity_id, MIN(created_at) AS at FROM login_events WHERE org_id = ${ORG1} AND outcome = 'success' GROUP BY identity_id)
           SELECT
             COALESCE(SUM(e.outcome = 'success'), 0) AS logins,
             COALESCE(SUM(e.outcome = 'failure'), 0) AS failed_logins,
             (SELECT COUNT(*) FROM first WHERE at BETWEEN ?2 AND ?3) AS new_users,
             COUNT(DISTINCT CASE WHEN e.outcome = 'success' THEN e.identity_id END) AS active_users,
             COUNT(DISTINCT CASE WHEN e.outcome = 'success' AND i.identity_type = 'machine' THEN e.identity_id END) AS machine_active
           FROM login_events e JOIN identities i ON i.id = e.identity_id
           WHERE e.org_id = ${ORG1} AND e.created_at BETWEEN ?2 AND ?3`,
          [c.slug, startMs(range.start), endMs(range.end)],
        );
      return { current: (await totals(c.range))[0], previous: (await totals(c.previous))[0] };
    },
    normRef: (r) => ({ current: { ...r.current }, previous: { ...r.previous } }),
  },
  {
    name: "lifecycle",
    path: (c) => `/api/organizations/${c.slug}/analytics/lifecycle?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}`,
    ours: (q, db, c) => q.lifecycle(db, c.slug, c.weeks.first, c.weeks.last),
    normOurs: (rows, c) => dense(c.weeks.first, c.weeks.last, rows, "week", ["new_users", "returning_users", "resurrecting_users", "dormant_users"], 7),
    ref: (run, c) =>
      run(
        `WITH iw AS (SELECT DISTINCT identity_id, created_at / ${DAY} - (created_at / ${DAY} + 3) % 7 AS week FROM login_events
             WHERE org_id = ${ORG1} AND outcome = 'success' AND created_at BETWEEN ?2 AND ?3),
           first AS (SELECT identity_id, MIN(created_at) / ${DAY} AS day FROM login_events WHERE org_id = ${ORG1} AND outcome = 'success' GROUP BY identity_id),
           flags AS (SELECT identity_id, week, MAX(kind = 0) AS cur, MAX(kind = 1) AS prev FROM (
             SELECT identity_id, week, 0 AS kind FROM iw UNION ALL SELECT identity_id, week + 7, 1 FROM iw
           ) WHERE week BETWEEN ?4 AND ?5 GROUP BY identity_id, week)
         SELECT fl.week, SUM(fl.cur AND f.day >= fl.week) AS new_users, SUM(fl.cur AND fl.prev) AS returning_users,
           SUM(fl.cur AND NOT fl.prev AND f.day < fl.week) AS resurrecting_users, SUM(fl.prev AND NOT fl.cur) AS dormant_users
         FROM flags fl JOIN first f ON f.identity_id = fl.identity_id GROUP BY fl.week`,
        [c.slug, startMs(c.weeks.first - 7), endMs(c.weeks.last + 6), c.weeks.first, c.weeks.last],
      ),
    normRef: (rows, c) => dense(c.weeks.first, c.weeks.last, rows, "week", ["new_users", "returning_users", "resurrecting_users", "dormant_users"], 7),
  },
  {
    name: "retention",
    path: (c) => `/api/organizations/${c.slug}/analytics/retention?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}`,
    ours: (q, db, c) => q.retention(db, c.slug, c.weeks.first, c.weeks.last),
    normOurs: (r) => ({
      cohorts: plain(r.cohorts).sort((a, b) => a.week - b.week),
      activity: plain(r.activity).sort((a, b) => a.week - b.week || a.period - b.period),
    }),
    ref: async (run, c) => {
      // One pass over the org's logins up to the range end: each login with its identity's first login day.
      const ctes = `w AS (SELECT identity_id, day, day - (day + 3) % 7 AS week, MIN(day) OVER (PARTITION BY identity_id) AS first_day
          FROM (SELECT identity_id, created_at / ${DAY} AS day FROM login_events WHERE org_id = ${ORG1} AND outcome = 'success' AND created_at <= ?2)),
        m AS (SELECT identity_id, week, first_day - (first_day + 3) % 7 AS cohort FROM w WHERE first_day BETWEEN ?3 AND ?4)`;
      const params = [c.slug, endMs(c.weeks.last + 6), c.weeks.first, c.weeks.last + 6];
      const cohorts = await run(`WITH ${ctes} SELECT cohort AS week, COUNT(DISTINCT identity_id) AS size FROM m GROUP BY cohort ORDER BY cohort`, params);
      const activity = await run(
        `WITH ${ctes} SELECT cohort AS week, (week - cohort) / 7 AS period, COUNT(DISTINCT identity_id) AS active FROM m
         WHERE week > cohort GROUP BY cohort, period ORDER BY cohort, period`,
        params,
      );
      return { cohorts, activity };
    },
    normRef: (r) => ({ cohorts: plain(r.cohorts), activity: plain(r.activity) }),
  },

  // ---- platform-wide (every organization) -------------------------------------------------
  {
    name: "platform/organizations",
    platform: true,
    path: (c) => `/api/platform/analytics/organizations?end_date=${dateOf(c.orgWindow.current.end)}&sort=active_users&order=desc&limit=50`,
    ours: (q, db, c) => q.organizationsEngagement(db, c.orgWindow.current, { sort: "active_users", order: "desc", limit: 50, offset: 0 }),
    normOurs: (r) => ({ total: r.total, rows: r.rows.map(orgRow) }),
    ref: async (run, c) => {
      const cur = c.orgWindow.current;
      const prev = c.orgWindow.previous;
      const rows = await run(
        `WITH first AS (SELECT identity_id, MIN(created_at) AS at FROM login_events WHERE outcome = 'success' GROUP BY identity_id),
           per_org AS (
             SELECT e.org_id,
               COUNT(DISTINCT CASE WHEN e.created_at >= ?1 THEN e.identity_id END) AS active_users,
               COUNT(DISTINCT CASE WHEN e.created_at < ?1 THEN e.identity_id END) AS previous_active_users,
               COUNT(DISTINCT CASE WHEN e.created_at >= ?1 AND f.at >= ?1 THEN e.identity_id END) AS new_users,
               SUM(e.created_at >= ?1) AS logins
             FROM login_events e JOIN first f ON f.identity_id = e.identity_id
             WHERE e.outcome = 'success' AND e.created_at BETWEEN ?2 AND ?3 GROUP BY e.org_id),
           last AS (SELECT org_id, MAX(created_at) AS at FROM login_events WHERE outcome = 'success' GROUP BY org_id)
         SELECT o.slug, COALESCE(p.active_users, 0) AS active_users, COALESCE(p.previous_active_users, 0) AS previous_active_users,
           COALESCE(p.new_users, 0) AS new_users, COALESCE(p.logins, 0) AS logins, l.at AS last_activity_at
         FROM organizations o LEFT JOIN per_org p ON p.org_id = o.id LEFT JOIN last l ON l.org_id = o.id
         ORDER BY active_users DESC, o.slug ASC LIMIT 50`,
        [startMs(cur.start), startMs(prev.start), endMs(cur.end)],
      );
      const total = await run(`SELECT COUNT(*) AS n FROM organizations`, []);
      return { rows, total };
    },
    normRef: (r) => ({ total: r.total[0].n, rows: r.rows.map(orgRow) }),
  },
  {
    name: "platform/login-activity",
    platform: true,
    path: (c) => `/api/platform/analytics/login-activity?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}`,
    ours: (q, db, c) => q.platformLoginActivity(db, c.range),
    normOurs: (rows) => rows.map((r) => ({ date: dateOf(r.day), count: r.count })),
    ref: (run, c) =>
      run(
        `SELECT DATE(created_at / 1000, 'unixepoch') AS date, COUNT(*) AS count FROM login_events
         WHERE outcome = 'success' AND created_at BETWEEN ? AND ? GROUP BY date ORDER BY date`,
        [startMs(c.range.start), endMs(c.range.end)],
      ),
    normRef: plain,
  },
  {
    name: "platform/overview",
    platform: true,
    path: (c) => `/api/platform/analytics/overview?start_date=${dateOf(c.range.start)}&end_date=${dateOf(c.range.end)}`,
    ours: (q, db, c) => q.platformOverview(db, c.range),
    normOurs: (r) => ({ ...r }),
    ref: async (run, c) =>
      (
        await run(
          `SELECT (SELECT COUNT(*) FROM organizations) AS organizations,
             (SELECT COUNT(DISTINCT identity_id) FROM login_events WHERE outcome = 'success') AS identities,
             (SELECT COUNT(DISTINCT identity_id) FROM login_events WHERE outcome = 'success' AND created_at BETWEEN ?1 AND ?2) AS active_identities,
             (SELECT COUNT(*) FROM login_events WHERE outcome = 'success' AND created_at BETWEEN ?1 AND ?2) AS logins`,
          [startMs(c.range.start), endMs(c.range.end)],
        )
      )[0],
    normRef: (r) => ({ ...r }),
  },
];

function orgRow(r) {
  return {
    slug: r.slug,
    active_users: r.active_users,
    previous_active_users: r.previous_active_users,
    new_users: r.new_users,
    logins: r.logins,
    last_activity_at: r.last_activity_at ?? null,
  };
}

/** First difference between two normalized answers, as a short string; null when equal. */
export function firstDifference(a, b, path = "") {
  if (Object.is(a, b)) return null;
  if (typeof a === "number" && typeof b === "number") return a === b ? null : `${path || "value"}: ours ${a}, reference ${b}`;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length || i >= b.length) return `${path}: ours has ${a.length} rows, reference ${b.length}`;
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[k], b[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return `${path || "value"}: ours ${JSON.stringify(a)}, reference ${JSON.stringify(b)}`;
}
