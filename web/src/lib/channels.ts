// The notification forms' data: form state <-> API bodies (channels and routes), kept pure so
// Vitest checks them (channels.test.ts). Secrets are write-only: an empty secret field sends
// nothing and the server keeps the stored one.
import type { Schemas } from "../api/client";

export type ChannelKind = "email" | "webhook";
/** Webhook flavours: Mattermost takes Slack's payload, so both map to `slack`. */
export type WebhookFlavour = "json" | "slack" | "mattermost" | "teams";
export type Language = "" | "en" | "fr";

export interface ChannelForm {
  name: string;
  enabled: boolean;
  kind: ChannelKind;
  language: Language;
  verifyTls: boolean;
  throttle: string;
  // email
  host: string;
  port: string;
  security: "starttls" | "tls" | "none";
  username: string;
  password: string;
  sender: string;
  recipients: string;
  // webhook
  url: string;
  flavour: WebhookFlavour;
  hmacKey: string;
}

export const EMPTY_CHANNEL: ChannelForm = {
  name: "", enabled: true, kind: "email", language: "", verifyTls: true, throttle: "",
  host: "", port: "587", security: "starttls", username: "", password: "", sender: "", recipients: "",
  url: "", flavour: "json", hmacKey: "",
};

/** The usual port of each SMTP security mode. */
export const SMTP_PORTS: Record<ChannelForm["security"], string> = { starttls: "587", tls: "465", none: "25" };

export function splitList(text: string): string[] {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

function text(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

/** A stored channel as form state (its secrets are never returned: the fields start empty). */
export function channelToForm(channel: Schemas["ChannelPublic"]): ChannelForm {
  const c = channel.config as Record<string, unknown>;
  const format = text(c.format) || "json";
  return {
    ...EMPTY_CHANNEL,
    name: channel.name, enabled: channel.enabled, kind: channel.kind,
    language: (text(c.language) as Language) || "", verifyTls: c.verify_tls !== false, throttle: text(c.throttle_limit),
    host: text(c.host), port: text(c.port) || "587", security: (text(c.security) || "starttls") as ChannelForm["security"],
    username: text(c.username), sender: text(c.sender),
    recipients: Array.isArray(c.recipients) ? (c.recipients as string[]).join(", ") : "",
    url: text(c.url), flavour: format as WebhookFlavour,
  };
}

/** The API body of a form (`POST /notify/channels`, `PUT /notify/channels/{id}`). */
export function channelBody(form: ChannelForm): Schemas["ChannelCreate"] {
  const common = {
    language: form.language === "" ? null : form.language,
    verify_tls: form.verifyTls,
    throttle_limit: form.throttle.trim() === "" ? null : Number(form.throttle),
  };
  if (form.kind === "email") {
    return {
      name: form.name.trim(), enabled: form.enabled,
      config: {
        kind: "email", host: form.host.trim(), port: Number(form.port), security: form.security,
        username: form.username.trim() || null, ...(form.password ? { password: form.password } : {}),
        sender: form.sender.trim(), recipients: splitList(form.recipients), ...common,
      },
    };
  }
  const format = form.flavour === "mattermost" ? "slack" : form.flavour;
  return {
    name: form.name.trim(), enabled: form.enabled,
    config: { kind: "webhook", url: form.url.trim(), format, ...(form.hmacKey && format === "json" ? { hmac_key: form.hmacKey } : {}), ...common },
  };
}

export interface RouteForm {
  name: string;
  channel: string;
  enabled: boolean;
  severities: string[];
  rules: string;
  tags: string;
  entity: string; // one `field=pattern` per line
  mode: "immediate" | "digest";
  digestMinutes: string;
}

export const EMPTY_ROUTE: RouteForm = {
  name: "", channel: "", enabled: true, severities: [], rules: "", tags: "", entity: "", mode: "immediate", digestMinutes: "60",
};

export function routeToForm(route: Schemas["RoutePublic"]): RouteForm {
  return {
    name: route.name, channel: String(route.channel), enabled: route.enabled,
    severities: route.match.severities ?? [], rules: (route.match.rules ?? []).join(", "), tags: (route.match.tags ?? []).join(", "),
    entity: Object.entries(route.match.entity ?? {}).map(([k, v]) => `${k}=${v}`).join("\n"),
    mode: route.mode, digestMinutes: String(route.digest_minutes),
  };
}

/** `field=pattern` lines as the entity matcher; a line without `=` is an error (its text). */
export function parseEntity(lines: string): { entity: Record<string, string>; bad: string | null } {
  const entity: Record<string, string> = {};
  for (const raw of lines.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    if (at <= 0 || at === line.length - 1) return { entity, bad: line };
    entity[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return { entity, bad: null };
}

export function routeBody(form: RouteForm): Schemas["RouteCreate"] {
  return {
    name: form.name.trim(), channel: Number(form.channel), enabled: form.enabled,
    match: {
      severities: form.severities as ("low" | "medium" | "critical")[],
      rules: splitList(form.rules), tags: splitList(form.tags), entity: parseEntity(form.entity).entity,
    },
    mode: form.mode, digest_minutes: Number(form.digestMinutes),
  };
}
