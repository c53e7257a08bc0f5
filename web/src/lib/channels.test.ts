import { describe, expect, it } from "vitest";
import { channelBody, channelToForm, EMPTY_CHANNEL, EMPTY_ROUTE, parseEntity, routeBody, routeToForm, splitList } from "./channels";

describe("channel forms", () => {
  it("send an email channel with its list of recipients and no empty password", () => {
    const body = channelBody({ ...EMPTY_CHANNEL, name: " soc ", host: "smtp.example.org", port: "465", security: "tls",
      sender: "guetteur@example.org", recipients: "a@example.org, b@example.org;c@example.org", throttle: "0" });
    expect(body).toEqual({ name: "soc", enabled: true, config: {
      kind: "email", host: "smtp.example.org", port: 465, security: "tls", username: null, sender: "guetteur@example.org",
      recipients: ["a@example.org", "b@example.org", "c@example.org"], language: null, verify_tls: true, throttle_limit: 0 } });
    expect("password" in body.config).toBe(false);
  });

  it("send a typed secret, and Mattermost as Slack's format without an HMAC key", () => {
    const email = channelBody({ ...EMPTY_CHANNEL, name: "m", host: "h", sender: "a@b", recipients: "c@d", password: "s3cret", throttle: "" });
    expect(email.config).toMatchObject({ password: "s3cret", throttle_limit: null });
    const hook = channelBody({ ...EMPTY_CHANNEL, name: "mm", kind: "webhook", url: "https://chat.example.org/hooks/x", flavour: "mattermost", hmacKey: "k" });
    expect(hook.config).toEqual({ kind: "webhook", url: "https://chat.example.org/hooks/x", format: "slack", language: null, verify_tls: true, throttle_limit: null });
    const json = channelBody({ ...EMPTY_CHANNEL, name: "j", kind: "webhook", url: "https://x.example/h", flavour: "json", hmacKey: "k" });
    expect(json.config).toMatchObject({ format: "json", hmac_key: "k" });
  });

  it("read a stored channel back without its secrets", () => {
    const form = channelToForm({ id: 3, name: "soc", kind: "email", enabled: false, has_secret: true, created: "", updated: "",
      config: { kind: "email", host: "smtp", port: 587, security: "starttls", username: "u", sender: "g@x", recipients: ["a@x", "b@x"], language: "fr", verify_tls: false } });
    expect(form).toMatchObject({ name: "soc", enabled: false, host: "smtp", port: "587", username: "u", recipients: "a@x, b@x", language: "fr", verifyTls: false, password: "" });
  });
});

describe("route forms", () => {
  it("turn matchers into the API's match", () => {
    const body = routeBody({ ...EMPTY_ROUTE, name: "crit", channel: "2", severities: ["critical"], rules: "r1, r2", tags: "attack.t1110*",
      entity: "host.name=web-*\n\n user.name = root ", mode: "digest", digestMinutes: "30" });
    expect(body).toEqual({ name: "crit", channel: 2, enabled: true, mode: "digest", digest_minutes: 30,
      match: { severities: ["critical"], rules: ["r1", "r2"], tags: ["attack.t1110*"], entity: { "host.name": "web-*", "user.name": "root" } } });
  });

  it("name the first entity line that is not field=pattern", () => {
    expect(parseEntity("host.name=a\nnonsense\nuser.name=b").bad).toBe("nonsense");
    expect(parseEntity("host.name=").bad).toBe("host.name=");
    expect(splitList(" a ,, b ")).toEqual(["a", "b"]);
  });

  it("read a stored route back", () => {
    const form = routeToForm({ id: 1, name: "r", channel: 4, enabled: true, mode: "immediate", digest_minutes: 60,
      match: { severities: ["low", "medium"], rules: [], tags: ["t"], entity: { "source.ip": "10.*" } } });
    expect(form).toMatchObject({ channel: "4", severities: ["low", "medium"], tags: "t", entity: "source.ip=10.*" });
  });
});
