// The wrangler.toml block that turns on queue-buffered ingest (README, "Scaling out").
// `npm run test:load -- --queue` appends exactly this to the tested copy of wrangler.toml.
export const QUEUES_TOML = `
[[queues.producers]]
binding = "EVENTS_QUEUE"
queue = "loginpulse-events"

[[queues.consumers]]
queue = "loginpulse-events"
max_batch_size = 10
max_batch_timeout = 1
max_retries = 5
dead_letter_queue = "loginpulse-events-dlq"

[[queues.consumers]]
queue = "loginpulse-events-dlq"
`;

// The wrangler.toml blocks that shard organizations across more D1 databases (README,
// "Scaling out"): one per extra database, DB_SHARD_1 … DB_SHARD_{n-1}, with the same
// migrations. `npm run test:load -- --shards N` appends exactly these to the tested copy.
export const shardsToml = (databases) =>
  Array.from(
    { length: databases - 1 },
    (_, i) => `
[[d1_databases]]
binding = "DB_SHARD_${i + 1}"
database_name = "loginpulse-shard-${i + 1}"
# Replace with the id printed by \`wrangler d1 create loginpulse-shard-${i + 1}\`.
database_id = "00000000-0000-0000-0000-00000000000${i + 1}"
migrations_dir = "migrations"
`,
  ).join("");

/** The D1 binding names of a deployment with `databases` databases. */
export const shardBindings = (databases) => ["DB", ...Array.from({ length: databases - 1 }, (_, i) => `DB_SHARD_${i + 1}`)];
