import { Anchor, Badge, Card, Group, Switch, Table, Text, Title, Tooltip } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { Chart } from "../components/Chart";
import i18n, { formatNumber, formatTime } from "../i18n";
import { alertsLink, bucketAt, colourStep, ENTITY_FILTER, heatmapRows, severitySeries, stepColour } from "../lib/dashboard";
import { quoteValue } from "../lib/kql";
import { SEVERITIES } from "../components/SeverityBadge";

// The dashboard's window for alert activity, as the events' (Dashboard.tsx).
const START = "now-24h";
const END = "now";
const RISK_COLOURS: Record<string, string> = { critical: "red", high: "orange", moderate: "yellow", low: "blue", unknown: "gray" };
// ECharts takes colours, not theme names: Mantine's red/orange/blue 6.
const SEVERITY_HEX: Record<string, string> = { critical: "#fa5252", medium: "#fd7e14", low: "#228be6" };

function hour(value: string): string {
  return new Intl.DateTimeFormat(i18n.language, { hour: "2-digit", minute: "2-digit" }).format(new Date(value));
}

function sinceLast24h(): string {
  return new Date(Date.now() - 24 * 3600_000).toISOString();
}

/** Alerts over the last 24 h, stacked by severity; a bar opens the alert list of its bucket and severity. */
export function AlertActivityTile() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const activity = useQuery({
    // under ["alerts"]: a streamed detection refreshes it at once (Dashboard.tsx)
    queryKey: ["alerts", "dashboard", "activity", START, END],
    queryFn: async () => unwrap(await api.GET("/api/v1/dashboard/alert-activity", { params: { query: { start: START, end: END, buckets: 48 } } })),
    refetchInterval: 30_000,
  });
  const buckets = useMemo(() => activity.data?.buckets ?? [], [activity.data]);
  const names = useMemo(() => Object.fromEntries(SEVERITIES.map((s) => [t(`alerts.severities.${s}`), s])), [t]);
  const option = useMemo(() => {
    const series = severitySeries(buckets, SEVERITIES);
    return {
      grid: { left: 40, right: 10, top: 30, bottom: 25 },
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: SEVERITIES.map((s) => t(`alerts.severities.${s}`)) },
      xAxis: { type: "time", axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: SEVERITIES.map((s) => ({ type: "bar", stack: "severity", name: t(`alerts.severities.${s}`), color: SEVERITY_HEX[s], data: series[s] })),
    };
  }, [buckets, t]);
  const total = buckets.reduce((n, b) => n + (b.counts.critical ?? 0) + (b.counts.medium ?? 0) + (b.counts.low ?? 0), 0);
  return (
    <Card withBorder data-testid="tile-alert-activity">
      <Title order={3} size="h5">{t("dashboard.alertsOverTime")}</Title>
      <Chart option={option} height={180} label={t("dashboard.alertsOverTime")} onClick={(p) => {
        const at = Array.isArray(p.value) ? Number(p.value[0]) : NaN;
        const bucket = bucketAt(buckets, at);
        const severity = p.seriesName ? names[p.seriesName] : undefined;
        if (bucket) navigate(alertsLink({ severity, since: bucket.since, until: bucket.until }));
      }} />
      <Group justify="space-between">
        <Text fz="xs" c="dimmed">{t("dashboard.activeHint")}</Text>
        <Anchor component={Link} to={alertsLink({ since: sinceLast24h() })} fz="sm">{total ? t("dashboard.listAlerts") : t("dashboard.allAlerts")}</Anchor>
      </Group>
    </Card>
  );
}

/** ATT&CK tactics x hours: each cell counts the alerts of the tactic active in the hour; a cell
 * opens the alert list with that tactic and hour. Cells are links (keyboard reachable). */
export function TacticHeatmap() {
  const { t } = useTranslation();
  const [all, setAll] = useState(false);
  const heat = useQuery({
    queryKey: ["alerts", "dashboard", "tactics", START, END],
    queryFn: async () => unwrap(await api.GET("/api/v1/dashboard/tactic-activity", { params: { query: { start: START, end: END, buckets: 24 } } })),
    refetchInterval: 30_000,
  });
  const buckets = heat.data?.buckets ?? [];
  const rows = heatmapRows(heat.data?.tactics ?? [], all);
  const max = Math.max(1, ...rows.flatMap((r) => r.counts));
  return (
    <Card withBorder data-testid="tile-tactics">
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h5">{t("dashboard.tactics")}</Title>
        <Switch size="xs" label={t("dashboard.allTactics")} checked={all} onChange={(e) => setAll(e.currentTarget.checked)} />
      </Group>
      {rows.length === 0 && !heat.isLoading && <Text c="dimmed" fz="sm">{t("dashboard.noTactics")}</Text>}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={700}>
          <Table fz="xs" verticalSpacing={0} horizontalSpacing={0} layout="fixed" withRowBorders={false} data-testid="heatmap">
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={160}><Text fz="xs" c="dimmed">{t("dashboard.tactic")}</Text></Table.Th>
                {buckets.map((b, i) => (
                  <Table.Th key={b.since} ta="center" fw={400}><Text fz={10} c="dimmed">{i % 3 === 0 ? hour(b.since) : ""}</Text></Table.Th>
                ))}
                <Table.Th w={50} ta="right"><Text fz="xs" c="dimmed">{t("dashboard.total")}</Text></Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((row) => (
                <Table.Tr key={row.shortname}>
                  <Table.Td><Text fz="xs" truncate title={row.shortname}>{row.name}</Text></Table.Td>
                  {row.counts.map((count, i) => {
                    const bucket = buckets[i];
                    const { background, light } = stepColour("red", colourStep(count, max));
                    const label = t("dashboard.heatCell", { tactic: row.name, from: formatTime(bucket.since), to: formatTime(bucket.until), count });
                    return (
                      <Table.Td key={bucket.since} p={1}>
                        {count > 0 ? (
                          <Tooltip label={label} openDelay={300}>
                            <Anchor component={Link} to={alertsLink({ tactic: row.shortname, since: bucket.since, until: bucket.until })}
                              aria-label={label} data-testid={`heat-${row.shortname}-${i}`} underline="never"
                              style={{ display: "block", background, color: light ? "white" : "inherit", textAlign: "center", borderRadius: 2, lineHeight: "20px", fontSize: 11 }}>
                              {count}
                            </Anchor>
                          </Tooltip>
                        ) : <div style={{ background, height: 20, borderRadius: 2 }} />}
                      </Table.Td>
                    );
                  })}
                  <Table.Td ta="right">
                    <Anchor component={Link} to={alertsLink({ tactic: row.shortname, since: heat.data?.start })} fz="xs">{formatNumber(row.total)}</Anchor>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Card>
  );
}

/** The riskiest entities of the risk window; each opens the alert list of that entity. */
export function RiskiestTile() {
  const { t } = useTranslation();
  const risky = useQuery({
    queryKey: ["risk", "dashboard"], // not under ["alerts"]: scoring is heavier; every 30 s is enough
    queryFn: async () => unwrap(await api.GET("/api/v1/risk/entities", { params: { query: { limit: 8 } } })),
    refetchInterval: 30_000,
  });
  const rows = risky.data?.data ?? [];
  return (
    <Card withBorder data-testid="tile-risk">
      <Title order={3} size="h5" mb="xs">{t("dashboard.riskiest")}</Title>
      {rows.length === 0 && !risky.isLoading && <Text c="dimmed" fz="sm">{t("dashboard.noRisk")}</Text>}
      <Table fz="sm" verticalSpacing={2} layout="fixed">
        <Table.Tbody>
          {rows.map((e) => (
            <Table.Tr key={`${e.field}=${e.value}`}>
              <Table.Td>
                <Anchor component={Link} to={alertsLink({ [ENTITY_FILTER[e.field]]: e.value })} fz="sm" ff="monospace" title={`${e.field}=${e.value}`}>
                  <Text span fz="xs" c="dimmed">{e.field} </Text>{e.value}
                </Anchor>
              </Table.Td>
              <Table.Td w={150} ta="right">
                <Badge color={RISK_COLOURS[e.level] ?? "gray"} variant="light">{formatNumber(e.score)} · {t(`dashboard.riskLevels.${e.level}`, { defaultValue: e.level })}</Badge>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {risky.data && <Text fz="xs" c="dimmed" mt={4}>{t("dashboard.riskWindow", { hours: formatNumber(risky.data.window_hours) })}</Text>}
    </Card>
  );
}

/** Sources gone silent (the statistical detectors, /health/details): each opens the explorer
 * on its last week of events. */
export function SilentSourcesTile() {
  const { t } = useTranslation();
  const health = useQuery({
    queryKey: ["health", "details"],
    queryFn: async () => unwrap(await api.GET("/api/v1/health/details")),
    refetchInterval: 15_000,
  });
  const statistics = health.data?.statistics;
  const silent = statistics?.silent ?? [];
  const watched = Number((statistics?.sources as { sources?: number } | undefined)?.sources ?? 0);
  return (
    <Card withBorder data-testid="tile-silent">
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h5">{t("dashboard.sourceHealth")}</Title>
        {statistics && <Badge color={silent.length ? "orange" : "green"} variant="light">{t("dashboard.silentCount", { count: silent.length })}</Badge>}
      </Group>
      {health.data && !statistics && <Text c="dimmed" fz="sm">{t("dashboard.statsOff")}</Text>}
      {statistics && silent.length === 0 && <Text c="dimmed" fz="sm">{t("dashboard.noSilent", { count: watched })}</Text>}
      <Table fz="sm" verticalSpacing={2} layout="fixed">
        <Table.Tbody>
          {silent.slice(0, 8).map((s) => {
            const [field, name] = Object.entries(s.entity)[0] ?? ["host.name", "?"];
            const to = `/explorer?${new URLSearchParams({ q: `${field}:${quoteValue(name)}`, start: "now-7d", end: "now" })}`;
            return (
              <Table.Tr key={`${field}=${name}`}>
                <Table.Td><Anchor component={Link} to={to} fz="sm" ff="monospace"><Text span fz="xs" c="dimmed">{field} </Text>{name}</Anchor></Table.Td>
                <Table.Td w={170} fz="xs">{t("dashboard.lastArrival", { at: formatTime(s.last_seen) })}</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Card>
  );
}
