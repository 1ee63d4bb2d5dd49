import fc from "fast-check";
import { DAY_MS, type EventInput } from "./helpers";

/**
 * Random login events for the model-based tests: `ids` event ids (so duplicates happen), `users`
 * users per organization, both identity types, three services and providers, about one failure in
 * ten, on `days` days from day number `firstDay`, at the day's first and last second too.
 */
export function loginEventArb({ orgs, ids, users, firstDay, days }: { orgs: string[]; ids: number; users: number; firstDay: number; days: number }) {
  return fc
    .record({
      id: fc.nat(ids - 1),
      org: fc.constantFrom(...orgs),
      user: fc.nat(users - 1),
      machine: fc.boolean(),
      service: fc.nat(2),
      provider: fc.constantFrom("github", "google", "password"),
      failure: fc.nat(9),
      day: fc.nat(days - 1),
      second: fc.oneof(fc.constant(0), fc.constant(86_399), fc.nat(86_399)),
    })
    .map(
      (r): EventInput => ({
        id: `e${r.id}`,
        org: r.org,
        user_id: `u${r.user}`,
        identity_type: r.machine ? "machine" : "human",
        service_id: `svc-${r.service}`,
        service_name: `Service ${r.service}`,
        provider: r.provider,
        outcome: r.failure === 0 ? "failure" : "success",
        created_at: new Date((firstDay + r.day) * DAY_MS + r.second * 1000).toISOString(),
      }),
    );
}
