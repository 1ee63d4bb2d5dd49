// Posts the demo events (scripts/lib/demo-data.mjs) to a running worker, in the batches the
// API accepts. Used by `npm run dev` and the browser test.
import { generateDemoEvents } from "./demo-data.mjs";

export const DEMO_BATCH = 1000;

/** Generates the demo events for `now` and POSTs them with `token` (events:write); returns the counts. */
export async function loadDemoEvents(base, token, now = Date.now()) {
  const { events, summary } = generateDemoEvents(now);
  let accepted = 0;
  let duplicates = 0;
  for (let i = 0; i < events.length; i += DEMO_BATCH) {
    const res = await fetch(`${base}/api/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ events: events.slice(i, i + DEMO_BATCH) }),
    });
    const text = await res.text();
    if (res.status !== 202) throw new Error(`POST /api/events (events ${i}..${i + DEMO_BATCH - 1}) answered ${res.status}: ${text.slice(0, 500)}`);
    const body = JSON.parse(text);
    accepted += body.accepted;
    duplicates += body.duplicates;
  }
  return { events, summary, accepted, duplicates };
}
