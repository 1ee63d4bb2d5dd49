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
