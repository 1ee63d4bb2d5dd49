import { createDb } from "./db/client";
import type { Bindings } from "./env";
import { runRollup } from "./rollup/rollup";

/** Cron expressions, as in wrangler.toml; `scheduled` dispatches on controller.cron. */
export const CRON_ROLLUP = "*/15 * * * *";

export async function scheduled(controller: ScheduledController, env: Bindings, _ctx: ExecutionContext): Promise<void> {
  const db = createDb(env.DB);
  switch (controller.cron) {
    case CRON_ROLLUP: {
      const result = await runRollup(db);
      console.log(JSON.stringify({ job: "rollup", ...result }));
      return;
    }
    default:
      throw new Error(`No job is scheduled for cron "${controller.cron}"`);
  }
}
