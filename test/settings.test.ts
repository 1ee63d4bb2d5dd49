import { beforeAll, describe, expect, it, vi } from "vitest";
import { webhookUrlProblem } from "../src/governance/webhooks";
import { expectErrorBody } from "./contract";
import { dbState } from "./db-state";
import { ingest, orgToken, platformToken, request, requestWith, rowsEverywhere, token } from "./helpers";

/** Settings: defaults, validation, the write-only rotating secret, safe webhook URLs, who may write. */

const ORG = "settings-org";
const PATH = `/api/organizations/${ORG}/settings`;
const SECRET_A = `whsec_${btoa("a".repeat(32))}`;
const SECRET_B = `whsec_${btoa("b".repeat(32))}`;

let admin: string;
let reader: string;

const put = (body: unknown, tok = admin, raw?: string) =>
  request(PATH, { method: "PUT", token: tok, headers: { "content-type": "application/json" }, body: raw ?? JSON.stringify(body) });

beforeAll(async () => {
  await ingest([{ id: "s-1", org: ORG, user_id: "u1", service_id: "web", provider: "github" }]);
  admin = await orgToken(ORG, { scope: "org:admin" });
  reader = await orgToken(ORG);
});

describe("settings", () => {
  it("an organization that never saved settings has the defaults", async () => {
    const res = await request(PATH, { token: reader });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      human_thresholds: [30, 60, 90],
      machine_thresholds: [30, 60, 90],
      report_identity_types: "all",
      webhook: { url: null, secret_configured: false, previous_secret_valid_until: null, disabled_at: null },
      updated_at: null,
    });
  });

  it("saves thresholds per type and the report's identity types; fields left out keep their value", async () => {
    let res = await put({ human_thresholds: [14, 45], report_identity_types: "machine" });
    expect(res.status).toBe(200);
    const saved = (await res.json()) as Record<string, unknown>;
    expect(saved).toMatchObject({ human_thresholds: [14, 45], machine_thresholds: [30, 60, 90], report_identity_types: "machine" });
    res = await put({ machine_thresholds: [7] });
    expect(await res.json()).toMatchObject({ human_thresholds: [14, 45], machine_thresholds: [7], report_identity_types: "machine" });
    expect(await (await request(PATH, { token: reader })).json()).toMatchObject({ human_thresholds: [14, 45], machine_thresholds: [7] });
  });

  it("refuses invalid settings with the contract's 400, naming the field, and saves nothing", async () => {
    const before = await dbState();
    const cases: [unknown, string][] = [
      [{ human_thresholds: [] }, "human_thresholds"],
      [{ human_thresholds: [30, 30] }, "human_thresholds"],
      [{ human_thresholds: [60, 30] }, "human_thresholds"],
      [{ human_thresholds: [6] }, "human_thresholds[0]"],
      [{ machine_thresholds: [30.5] }, "machine_thresholds[0]"],
      [{ machine_thresholds: [3651] }, "machine_thresholds[0]"],
      [{ machine_thresholds: [7, 14, 30, 60, 90, 180] }, "machine_thresholds"],
      [{ report_identity_types: "robots" }, "report_identity_types"],
      [{ webhook_secret: "not-a-secret" }, "webhook_secret"],
      [{ webhook_secret: `whsec_${btoa("short")}` }, "webhook_secret"],
      [{ webhook_url: "https://hooks.example.com/x" }, "webhook_secret"], // no secret stored yet
      [{ webhook_url: "ftp://hooks.example.com/x", webhook_secret: SECRET_A }, "webhook_url"],
      [{ surprise: 1 }, ""],
    ];
    for (const [body, path] of cases) {
      const err = await expectErrorBody(await put(body), 400, "BAD_REQUEST", JSON.stringify(body));
      expect(err.details?.map((d) => d.path), JSON.stringify(body)).toContain(path);
    }
    await expectErrorBody(await put(null, admin, "{not json"), 400, "BAD_REQUEST");
    await expectErrorBody(
      await request(PATH, { method: "PUT", token: admin, headers: { "content-type": "text/plain" }, body: "{}" }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
    expect(await dbState()).toEqual(before);
  });

  it("the secret is write-only: never in a response or a log line; rotation keeps the previous one valid for 24 h", async () => {
    const logged: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
    }
    const texts: string[] = [];
    const first = await put({ webhook_url: "https://hooks.example.com/loginpulse", webhook_secret: SECRET_A });
    texts.push(await first.clone().text());
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({
      webhook: { url: "https://hooks.example.com/loginpulse", secret_configured: true, previous_secret_valid_until: null, disabled_at: null },
    });
    const before = Date.now();
    const rotated = await put({ webhook_secret: SECRET_B });
    texts.push(await rotated.clone().text());
    const body = (await rotated.json()) as { webhook: { previous_secret_valid_until: string } };
    const until = Date.parse(body.webhook.previous_secret_valid_until);
    expect(until).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 24 * 3_600_000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);
    // Saving the same secret again is not a rotation.
    const same = await put({ webhook_secret: SECRET_B });
    texts.push(await same.clone().text());
    expect(((await same.json()) as typeof body).webhook.previous_secret_valid_until).toBe(body.webhook.previous_secret_valid_until);
    const [stored] = await rowsEverywhere("SELECT webhook_secret, previous_webhook_secret FROM org_settings");
    expect(stored).toEqual({ webhook_secret: SECRET_B, previous_webhook_secret: SECRET_A });
    // errors echo nothing either
    texts.push(await (await put({ webhook_secret: SECRET_A, webhook_url: "https://127.0.0.1/x" })).text());
    texts.push(await (await put({ webhook_secret: `${SECRET_A}!` })).text());
    texts.push(await (await request(PATH, { token: reader })).text());
    texts.push(await (await request(PATH, { token: await platformToken() })).text());
    for (const text of [...texts, ...logged]) {
      for (const secret of [SECRET_A, SECRET_B, btoa("a".repeat(32)), btoa("b".repeat(32))]) expect(text.includes(secret), text.slice(0, 200)).toBe(false);
    }
    vi.restoreAllMocks();
  });

  it("webhook_url: null removes the webhook and its secrets", async () => {
    const res = await put({ webhook_url: null });
    expect(await res.json()).toMatchObject({ webhook: { url: null, secret_configured: false, previous_secret_valid_until: null } });
    expect(await rowsEverywhere("SELECT webhook_secret, previous_webhook_secret FROM org_settings")).toEqual([{ webhook_secret: null, previous_webhook_secret: null }]);
  });

  it("private, loopback, link-local and metadata webhook URLs are refused at PUT (allowed only with ENVIRONMENT=development)", async () => {
    const refused = [
      "http://hooks.example.com/x",
      "https://localhost/x",
      "https://LOCALHOST./x",
      "https://app.localhost/x",
      "https://127.0.0.1/x",
      "https://127.1/x",
      "https://2130706433/x",
      "https://0x7f000001/x",
      "https://0177.0.0.1/x",
      "https://0.0.0.0/x",
      "https://10.1.2.3/x",
      "https://172.16.0.1/x",
      "https://172.31.255.255/x",
      "https://192.168.1.1/x",
      "https://169.254.169.254/latest/meta-data",
      "https://100.64.0.1/x",
      "https://224.0.0.1/x",
      "https://[::1]/x",
      "https://[::]/x",
      "https://[::ffff:127.0.0.1]/x",
      "https://[::ffff:a9fe:a9fe]/x",
      "https://[64:ff9b::a9fe:a9fe]/x",
      "https://[fd00::1]/x",
      "https://[fe80::1]/x",
      "https://metadata.google.internal/computeMetadata/v1/",
      "https://metadata/x",
      "https://printer.local/x",
      "https://router.home.arpa/x",
      "https://intranet/x",
      "https://user:pass@hooks.example.com/x",
      "not a url",
      "/relative",
    ];
    for (const url of refused) {
      const err = await expectErrorBody(await put({ webhook_url: url, webhook_secret: SECRET_A }), 400, "BAD_REQUEST", url);
      expect(err.details?.[0].path, url).toBe("webhook_url");
    }
    for (const url of ["https://hooks.example.com/loginpulse", "https://203.0.113.10:8443/hook", "https://[2001:db8::1]/hook", "https://172.32.0.1/x", "https://hooks.example.com./x"]) {
      expect(webhookUrlProblem(url, false), url).toBeUndefined();
    }
    // A local receiver in development.
    const dev = await requestWith({ ENVIRONMENT: "development" }, PATH, {
      method: "PUT",
      token: admin,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ webhook_url: "http://localhost:9000/hook", webhook_secret: SECRET_A }),
    });
    expect(dev.status).toBe(200);
    expect(await dev.json()).toMatchObject({ webhook: { url: "http://localhost:9000/hook" } });
  });

  it("who may write: this org's org:admin token or the platform owner; not a reader, another org's admin, or a bound ingest token", async () => {
    expect((await put({}, await platformToken())).status).toBe(200);
    for (const tok of [reader, await orgToken("other", { scope: "org:admin" }), await token({ claims: { org: ORG, scope: "events:write org:admin" } })]) {
      await expectErrorBody(await put({ human_thresholds: [10] }, tok), 403, "FORBIDDEN");
    }
    // the refusal comes before the body is read
    await expectErrorBody(await put(null, reader, "{not json"), 403, "FORBIDDEN");
    await expectErrorBody(await request("/api/organizations/nope/settings", { token: await platformToken() }), 404, "NOT_FOUND");
    await expectErrorBody(
      await request("/api/organizations/nope/settings", { method: "PUT", token: await platformToken(), headers: { "content-type": "application/json" }, body: "{}" }),
      404,
      "NOT_FOUND",
    );
  });
});
