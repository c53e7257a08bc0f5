import { describe, expect, it } from "vitest";
import { arrivedSince, SENDER_SOURCE, SENDERS, senderConfigs } from "./senders";

const target = { host: "siem.example.org", syslogPort: 6514, apiUrl: "https://console.example.org:8443", key: "gt_secret" };

describe("senderConfigs", () => {
  const configs = senderConfigs(target);
  it("offers every sender, in order", () => {
    expect(configs.map((c) => c.id)).toEqual([...SENDERS]);
  });
  it("puts the key in every HTTP sender and the syslog port in rsyslog", () => {
    for (const c of configs.filter((c) => c.id !== "rsyslog")) expect(c.text, c.id).toContain("gt_secret");
    expect(configs[0].text).toContain('target="siem.example.org" port="6514"');
  });
  it("uses the address senders see, with the console's scheme and port", () => {
    const filebeat = configs.find((c) => c.id === "filebeat")!;
    expect(filebeat.text).toContain('hosts: ["https://siem.example.org:8443"]');
    expect(configs.find((c) => c.id === "fluentbit")!.text).toContain("tls                On");
    expect(configs.find((c) => c.id === "curl")!.text).toContain("https://siem.example.org:8443/api/v1/ingest");
  });
  it("defaults the port from the scheme", () => {
    const plain = senderConfigs({ ...target, apiUrl: "http://127.0.0.1" });
    expect(plain.find((c) => c.id === "otel")!.text).toContain("endpoint: http://siem.example.org:80");
    expect(plain.find((c) => c.id === "fluentbit")!.text).not.toContain("tls");
  });
});

describe("first events of a sender", () => {
  it("maps every sender to the source its events are counted under", () => {
    expect(Object.keys(SENDER_SOURCE).sort()).toEqual([...SENDERS].sort());
    expect(SENDER_SOURCE.filebeat).toBe("es_bulk");
    expect(SENDER_SOURCE.otel).toBe("otlp");
  });
  it("counts what was stored since the page opened, for that source only", () => {
    const baseline = { "syslog-tcp": 100, http: 5 };
    expect(arrivedSince(baseline, { "syslog-tcp": { stored: 100 }, http: { stored: 9 } }, "syslog-tcp")).toBe(0);
    expect(arrivedSince(baseline, { "syslog-tcp": { stored: 100 }, http: { stored: 9 } }, "http")).toBe(4);
    expect(arrivedSince(baseline, { otlp: { stored: 3 } }, "otlp")).toBe(3); // a source seen for the first time
    expect(arrivedSince(baseline, {}, "otlp")).toBe(0);
  });
  it("takes a counter below its baseline for a restarted server: all of it is new", () => {
    expect(arrivedSince({ http: 50 }, { http: { stored: 7 } }, "http")).toBe(7);
  });
});
