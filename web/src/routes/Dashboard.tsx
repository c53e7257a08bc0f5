import { Anchor, Badge, Card, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useMemo, useState, useSyncExternalStore } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { Chart } from "../components/Chart";
import { type StreamMessage, useStream } from "../hooks/useStream";
import { formatNumber, formatTime } from "../i18n";
import { alertsLink } from "../lib/dashboard";
import { display } from "../lib/event";
import { quoteValue } from "../lib/kql";
import { explorerLink } from "../lib/links";
import { type Point, type PointStore, pointStore, ratePoint } from "../lib/rates";
import { LEVEL_COLOURS } from "../theme";
import { AlertTiles } from "./alertTiles";
import { AlertActivityTile, RiskiestTile, SilentSourcesTile, TacticHeatmap } from "./dashboardTiles";

const RANGE = { start: "now-24h", end: "now" };
const POINTS = 120;
// The dashboard wants the stream's counters and detections, not its events (`events: false`; and a
// query no event matches, for a server that does not know that option).
const NO_EVENTS = 'event.dataset:"guetteur.console.none"';

function TopTile({ field, title }: { field: string; title: string }) {
  const { t } = useTranslation();
  const top = useQuery({
    queryKey: ["top", field, "", RANGE.start, RANGE.end],
    queryFn: async () => unwrap(await api.GET("/api/v1/search/top", { params: { query: { field, start: RANGE.start, end: RANGE.end, size: 8 } } })),
    refetchInterval: 30_000,
  });
  return (
    <Card withBorder data-testid={`tile-${field}`}>
      <Title order={3} size="h5" mb="xs">{title}</Title>
      {top.data?.values.length === 0 && <Text c="dimmed" fz="sm">{t("dashboard.nothing")}</Text>}
      <Table fz="sm" verticalSpacing={2}>
        <Table.Tbody>
          {(top.data?.values ?? []).map((v) => (
            <Table.Tr key={display(v.value)}>
              <Table.Td><Anchor component={Link} to={explorerLink(`${field}:${quoteValue(v.value)}`)} ff="monospace" fz="sm">{display(v.value)}</Anchor></Table.Td>
              <Table.Td ta="right">{formatNumber(v.count)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}

type Detection = Extract<StreamMessage, { type: "detection" }>["detection"];

function RateTile({ store }: { store: PointStore }) {
  const { t } = useTranslation();
  const points = useSyncExternalStore(store.subscribe, store.get);
  const last = points[points.length - 1];
  const rateOption = useMemo(() => ({
    grid: { left: 45, right: 10, top: 30, bottom: 25 },
    tooltip: { trigger: "axis" },
    legend: { top: 0, data: [t("dashboard.in"), t("dashboard.stored")] },
    // At least the last minute (a first point alone made a time axis of days), dots while too few for a line.
    xAxis: { type: "time", min: (v: { min: number; max: number }) => Math.min(v.min, v.max - 60_000), max: "dataMax", axisLabel: { hideOverlap: true } },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { type: "line", name: t("dashboard.in"), showSymbol: points.length < 3, data: points.map((p) => [p.at, p.in]) },
      { type: "line", name: t("dashboard.stored"), showSymbol: points.length < 3, data: points.map((p) => [p.at, p.stored]) },
    ],
  }), [points, t]);
  return (
    <Card withBorder>
      <Group justify="space-between">
        <Title order={3} size="h5">{t("dashboard.rate")}</Title>
        <Text fz="sm" data-testid="rate">{t("dashboard.rateNow", { in: formatNumber(last?.in ?? 0), stored: formatNumber(last?.stored ?? 0) })}</Text>
      </Group>
      <Chart option={rateOption} height={180} label={t("dashboard.rate")} />
      <Anchor component={Link} to={explorerLink("", "now-15m")} fz="sm">{t("dashboard.latestEvents")}</Anchor>
    </Card>
  );
}

/** The live dashboard: the stream's counters and detections, batched once a second. */
export default function Dashboard() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [points] = useState(() => pointStore(POINTS));
  const [detections, setDetections] = useState<Detection[]>([]);
  const onBatch = useCallback((messages: StreamMessage[]) => {
    const fresh: Point[] = [];
    const found: Detection[] = [];
    for (const m of messages) {
      if (m.type === "counters") fresh.push(ratePoint(m.counters, Date.now()));
      if (m.type === "detection") found.push(m.detection);
    }
    points.add(fresh);
    if (found.length) {
      setDetections((d) => [...found.reverse(), ...d].slice(0, 50));
      void client.invalidateQueries({ queryKey: ["alerts"] }); // a detection may have opened an alert
    }
  }, [client, points]);
  const streamState = useStream(true, NO_EVENTS, onBatch, 1000, false);

  const histogram = useQuery({
    queryKey: ["histogram", "", RANGE.start, RANGE.end, "dashboard"],
    queryFn: async () => unwrap(await api.GET("/api/v1/search/histogram", { params: { query: { start: RANGE.start, end: RANGE.end, buckets: 48 } } })),
    refetchInterval: 30_000,
  });
  const rules = useQuery({
    queryKey: ["rules"],
    queryFn: async () => unwrap(await api.GET("/api/v1/detection/rules")),
    refetchInterval: 30_000,
  });
  const histogramOption = useMemo(() => ({
    grid: { left: 50, right: 10, top: 10, bottom: 25 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "time", axisLabel: { hideOverlap: true } },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", name: t("explorer.events"), data: (histogram.data?.buckets ?? []).map((b) => [Date.parse(b.start), b.count]) }],
  }), [histogram.data, t]);
  const busiest = (rules.data?.data ?? []).filter((r) => r.hits > 0).slice(0, 8);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2} size="h3">{t("nav.dashboard")}</Title>
        <Badge color={streamState === "live" ? "green" : "gray"} data-testid="stream-state">{t(`stream.${streamState}`)}</Badge>
      </Group>
      <AlertTiles />
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <AlertActivityTile />
        <RiskiestTile />
      </SimpleGrid>
      <TacticHeatmap />
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <RateTile store={points} />
        <Card withBorder>
          <Title order={3} size="h5">{t("dashboard.overTime")}</Title>
          <Chart option={histogramOption} height={180} label={t("dashboard.overTime")} onClick={(p) => {
            // a bar opens the explorer on its bucket
            const at = Array.isArray(p.value) ? Number(p.value[0]) : NaN;
            const width = (histogram.data?.interval_seconds ?? 0) * 1000;
            navigate(Number.isFinite(at) && width
              ? `/explorer?${new URLSearchParams({ q: "", start: new Date(at).toISOString(), end: new Date(at + width).toISOString() })}`
              : explorerLink(""));
          }} />
          <Anchor component={Link} to={explorerLink("")} fz="sm">{t("dashboard.openExplorer")}</Anchor>
        </Card>
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
        <TopTile field="host.name" title={t("dashboard.topHosts")} />
        <TopTile field="user.name" title={t("dashboard.topUsers")} />
        <TopTile field="source.ip" title={t("dashboard.topSources")} />
        <Card withBorder data-testid="tile-rules">
          <Title order={3} size="h5" mb="xs">{t("dashboard.topRules")}</Title>
          {busiest.length === 0 && <Text c="dimmed" fz="sm">{t("dashboard.nothing")}</Text>}
          <Table fz="sm" verticalSpacing={2}>
            <Table.Tbody>
              {busiest.map((r) => (
                <Table.Tr key={r.rule_id}>
                  <Table.Td><Anchor component={Link} to={alertsLink({ rule_id: r.rule_id })} fz="sm">{r.title ?? r.rule_id}</Anchor></Table.Td>
                  <Table.Td ta="right">{formatNumber(r.hits)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <SilentSourcesTile />
        <Card withBorder data-testid="tile-detections">
          <Title order={3} size="h5" mb="xs">{t("dashboard.detections")}</Title>
          {detections.length === 0 && <Text c="dimmed" fz="sm">{t("dashboard.noDetections")}</Text>}
          <Table fz="sm" verticalSpacing={2}>
            <Table.Tbody>
              {detections.map((d) => (
                <Table.Tr key={d.id}>
                  <Table.Td w={150} fz="xs">{formatTime(d.created)}</Table.Td>
                  <Table.Td w={100}><Badge color={LEVEL_COLOURS[d.level] ?? "gray"}>{t(`levels.${d.level}`, { defaultValue: d.level })}</Badge></Table.Td>
                  <Table.Td><Anchor component={Link} to={alertsLink({ rule_id: d.rule_id })} fz="sm">{d.title}</Anchor></Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      </SimpleGrid>
    </Stack>
  );
}
