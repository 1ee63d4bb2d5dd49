import { everyDatabase, jobDatabases } from "./db/shards";
import { type Bindings, loadConfig } from "./env";
import { continueGovernance, type GovernanceOptions, runDailyJob } from "./governance/jobs";
import { runRollup } from "./rollup/rollup";

/** Cron expressions, as in wrangler.toml; `scheduled` dispatches on controller.cron. */
export const CRON_ROLLUP = "*/15 * * * *";
/** The daily governance job: reports, health labels, webhooks, retention (src/governance/jobs.ts). */
export const CRON_DAILY = "0 6 * * *";

/** Every job runs in every database (`DB` and any `DB_SHARD_n`, src/db/shards.ts), in parallel. */
export async function scheduled(controller: ScheduledController, env: Bindings, _ctx: ExecutionContext): Promise<void> {
  const dbs = jobDatabases(env);
  const config = loadConfig(env);
  const governance: GovernanceOptions = {
    now: controller.scheduledTime,
    allowPrivateWebhooks: config.ENVIRONMENT === "development",
    rawRetentionDays: config.RAW_RETENTION_DAYS,
  };
  switch (controller.cron) {
    case CRON_ROLLUP: {
      await everyDatabase(dbs, async (db, name) => {
        const result = await runRollup(db);
        console.log(JSON.stringify({ job: "rollup", ...(dbs.sharded ? { database: name } : {}), ...result }));
      });
      const continued = await continueGovernance(dbs, governance);
      if (continued.reports || continued.deliveries.length > 0) {
        console.log(JSON.stringify({ job: "governance", reports: continued.reports, platform_report: continued.platformReport, deliveries: continued.deliveries.length }));
      }
      return;
    }
    case CRON_DAILY: {
      const { deliveries, ...result } = await runDailyJob(dbs, governance);
      console.log(JSON.stringify({ job: "daily", ...result, deliveries: deliveries.length }));
      return;
    }
    default:
      throw new Error(`No job is scheduled for cron "${controller.cron}"`);
  }
}
