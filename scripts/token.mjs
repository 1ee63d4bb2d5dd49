#!/usr/bin/env node
// Mints a token signed with the local dev key (.dev/, created on first use) and prints
// only the JWT, so it can be captured:
//
//   TOKEN=$(npm run -s token -- --org acme-corp)
//   curl -H "Authorization: Bearer $TOKEN" localhost:8787/api/organizations/acme-corp/analytics/summary
//
// Options:
//   --org <slug>        organization claim (org reader token, or binds an ingest token to one org)
//   --platform          is_platform_owner: true
//   --scope <scopes>    space-separated scopes, e.g. "events:write"
//   --service <slug>    service claim (an end-user service token; cannot read analytics)
//   --sub <id>          subject (default: dev-user, or dev-platform-owner / dev-ingest)
//   --email <address>   email claim
//   --ttl <span>        lifetime: 30m, 1h, 7d, ... or seconds (default 24h)
import { parseArgs } from "node:util";
import { ensureDevSetup, mintToken } from "./lib/dev-keys.mjs";

const usage = `Usage: npm run -s token -- [--org <slug>] [--platform] [--scope "events:write"] [--service <slug>] [--sub <id>] [--email <addr>] [--ttl 1h]`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      org: { type: "string" },
      platform: { type: "boolean", default: false },
      scope: { type: "string" },
      service: { type: "string" },
      sub: { type: "string" },
      email: { type: "string" },
      ttl: { type: "string", default: "24h" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  }));
} catch (err) {
  console.error(`${err.message}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.error(usage);
  process.exit(0);
}

const ttl = /^\d+$/.test(values.ttl) ? Number(values.ttl) : values.ttl;
if (typeof ttl === "string" && !/^\d+(\.\d+)?\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks|y|yr|yrs|year|years)$/i.test(ttl)) {
  console.error(`--ttl: expected a span like 30m, 1h, 7d or a number of seconds, got "${values.ttl}"`);
  process.exit(2);
}

const defaultSub = values.platform ? "dev-platform-owner" : values.scope?.split(/\s+/).includes("events:write") ? "dev-ingest" : "dev-user";

try {
  const { privateJwk, created } = await ensureDevSetup();
  if (created) console.error("token: generated a new dev key in .dev/ (restart `npm run dev` so the worker trusts it)");
  const jwt = await mintToken(privateJwk, {
    sub: values.sub ?? defaultSub,
    ttl,
    email: values.email,
    org: values.org,
    service: values.service,
    scope: values.scope,
    is_platform_owner: values.platform ? true : undefined,
  });
  process.stdout.write(`${jwt}\n`);
} catch (err) {
  console.error(`token: ${err.message}`);
  process.exit(1);
}
