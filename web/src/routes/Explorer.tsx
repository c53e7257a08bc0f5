import { Badge, Button, Group, Menu, Stack, Switch, Text, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";
import { ApiError, api, unwrap } from "../api/client";
import { authFetch } from "../api/session";
import { Chart } from "../components/Chart";
import { EventView } from "../components/EventView";
import { FieldSidebar } from "../components/FieldSidebar";
import { QueryBar } from "../components/QueryBar";
import { ResultsTable } from "../components/ResultsTable";
import { TimePicker } from "../components/TimePicker";
import { allows, useMe } from "../hooks/useMe";
import { type StreamMessage, useStream } from "../hooks/useStream";
import { formatNumber, formatTime } from "../i18n";
import type { Doc } from "../lib/event";
import { addFilter } from "../lib/kql";
import { rangeFromParams, type TimeRange, zoomRange } from "../lib/timerange";

const DEFAULT_COLUMNS = ["@timestamp", "host.name", "event.action", "message"];
const PAGE = 200;
const LIVE_MAX = 1000;

function Histogram({ query, range, onZoom, enabled }: { query: string; range: TimeRange; onZoom: (r: TimeRange) => void; enabled: boolean }) {
  const { t } = useTranslation();
  const histogram = useQuery({
    queryKey: ["histogram", query, range.start, range.end],
    queryFn: async () => unwrap(await api.GET("/api/v1/search/histogram", { params: { query: { q: query, start: range.start, end: range.end, buckets: 60 } } })),
    retry: false,
    enabled,
  });
  const option = useMemo(() => {
    const width = (histogram.data?.interval_seconds ?? 60) * 1000;
    return {
      grid: { left: 50, right: 10, top: 10, bottom: 25 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "time", min: histogram.data?.start, max: histogram.data?.end, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: t("explorer.events"), barWidth: "90%", data: (histogram.data?.buckets ?? []).map((b) => [Date.parse(b.start) + width / 2, b.count]) }],
    };
  }, [histogram.data, t]);
  const onBrush = useCallback((from: number, to: number) => onZoom(zoomRange(from, to)), [onZoom]);
  return <Chart option={option} height={140} label={t("explorer.histogram")} onBrush={onBrush} />;
}

async function download(query: string, range: TimeRange, format: "csv" | "ndjson") {
  const params = new URLSearchParams({ q: query, start: range.start, end: range.end, format });
  const response = await authFetch(new Request(`/api/v1/search/export?${params}`));
  if (!response.ok) throw new Error(String(response.status));
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = `guetteur-export.${format}`;
  link.click();
  URL.revokeObjectURL(url);
}

function SavedSearches({ query, range, onLoad }: { query: string; range: TimeRange; onLoad: (q: string, r: TimeRange) => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [name, setName] = useState("");
  const saved = useQuery({ queryKey: ["saved"], queryFn: async () => unwrap(await api.GET("/api/v1/saved-searches")) });
  const save = useMutation({
    mutationFn: async () => unwrap(await api.PUT("/api/v1/saved-searches", { body: { name, query, time_range: range.end === "now" ? range.start : null } })),
    onSuccess: () => {
      setName("");
      void client.invalidateQueries({ queryKey: ["saved"] });
      notifications.show({ message: t("explorer.saved") });
    },
    onError: (e) => notifications.show({ color: "red", message: String((e as Error).message) }),
  });
  return (
    <Menu closeOnItemClick={false} position="bottom-end">
      <Menu.Target><Button variant="default">{t("explorer.savedSearches")}</Button></Menu.Target>
      <Menu.Dropdown miw={280}>
        <Group gap="xs" p="xs" wrap="nowrap">
          <TextInput size="xs" aria-label={t("explorer.saveName")} placeholder={t("explorer.saveName")} value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <Button size="xs" disabled={!name.trim()} onClick={() => save.mutate()}>{t("common.save")}</Button>
        </Group>
        <Menu.Divider />
        {(saved.data ?? []).length === 0 && <Menu.Label>{t("explorer.noSaved")}</Menu.Label>}
        {(saved.data ?? []).map((s) => (
          <Menu.Item key={s.id} onClick={() => onLoad(s.query, { start: s.time_range ?? "now-15m", end: "now" })}>
            <Text fz="sm">{s.name}</Text>
            <Text fz="xs" c="dimmed" ff="monospace" truncate>{s.query || "*"}</Text>
          </Menu.Item>
        ))}
      </Menu.Dropdown>
    </Menu>
  );
}

/** The log explorer. Its state (query, range, columns) is the address: share the URL. */
export default function Explorer() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const me = useMe();
  const query = params.get("q") ?? "";
  const range = rangeFromParams(params);
  const columns = params.get("cols")?.split(",").filter(Boolean) ?? DEFAULT_COLUMNS;
  const [opened, setOpened] = useState<Doc | null>(null);
  const [live, setLive] = useState(false);
  const [liveRows, setLiveRows] = useState<Doc[]>([]);

  const update = useCallback((changes: Record<string, string | null>) => {
    setParams((current) => {
      const next = new URLSearchParams(current);
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) next.delete(k);
        else next.set(k, v);
      }
      return next;
    });
  }, [setParams]);
  const setRange = useCallback((r: TimeRange) => update({ start: r.start, end: r.end }), [update]);

  const results = useInfiniteQuery({
    queryKey: ["search", query, range.start, range.end],
    queryFn: async ({ pageParam }) => unwrap(await api.GET("/api/v1/search", { params: { query: { q: query, start: range.start, end: range.end, limit: PAGE, cursor: pageParam ?? null } } })),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    retry: false,
    enabled: !live,
  });
  // The hit count and the histogram scan the whole range (seconds over millions of events): they
  // are asked once the first page of results is drawn, so that they do not compete with it for
  // the server's and the browser's time. The page is usable as soon as its results are there.
  const fetched = results.isFetched;
  const [drawn, setDrawn] = useState(false);
  useEffect(() => {
    setDrawn(false);
    if (!fetched) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const frame = requestAnimationFrame(() => { timer = setTimeout(() => setDrawn(true), 0); }); // after the paint
    return () => { cancelAnimationFrame(frame); clearTimeout(timer); };
  }, [fetched]);
  const count = useQuery({
    queryKey: ["count", query, range.start, range.end],
    queryFn: async () => unwrap(await api.GET("/api/v1/search/count", { params: { query: { q: query, start: range.start, end: range.end } } })),
    retry: false,
    enabled: drawn || live,
  });
  const error = results.error instanceof ApiError && results.error.status === 400 ? { message: results.error.message, position: results.error.position } : null;
  const rows = useMemo(() => (live ? liveRows : (results.data?.pages ?? []).flatMap((p) => p.data as Doc[])), [live, liveRows, results.data]);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = results;
  const onEnd = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const onBatch = useCallback((messages: StreamMessage[]) => {
    const events = messages.flatMap((m) => (m.type === "event" ? [m.event as Doc] : [])).reverse();
    if (events.length) setLiveRows((current) => [...events, ...current].slice(0, LIVE_MAX));
  }, []);
  const streamState = useStream(live, query, onBatch, 500);

  return (
    <Stack gap="sm">
      <Title order={2} size="h3">{t("nav.explorer")}</Title>
      <Group align="flex-start" gap="xs" wrap="nowrap">
        <QueryBar value={query} range={range} error={error} onSubmit={(q) => update({ q: q || null })} />
        <TimePicker value={range} onChange={setRange} />
      </Group>
      <Group gap="xs">
        <Text fz="sm" data-testid="hit-count">{count.data ? t("explorer.count", { count: count.data.count, formatted: formatNumber(count.data.count) }) : " "}</Text>
        <Switch label={t("explorer.liveTail")} checked={live} onChange={(e) => { setLive(e.currentTarget.checked); setLiveRows([]); }} />
        {live && <Badge color={streamState === "live" ? "green" : "gray"}>{t(`stream.${streamState}`)}</Badge>}
        <Group gap="xs" ml="auto">
          <SavedSearches query={query} range={range} onLoad={(q, r) => update({ q, start: r.start, end: r.end })} />
          {allows(me.data?.role, "analyst") && (
            <Menu>
              <Menu.Target><Button variant="default">{t("explorer.export")}</Button></Menu.Target>
              <Menu.Dropdown>
                {(["csv", "ndjson"] as const).map((f) => (
                  <Menu.Item key={f} onClick={() => download(query, range, f).catch(() => notifications.show({ color: "red", message: t("common.failed") }))}>{f.toUpperCase()}</Menu.Item>
                ))}
              </Menu.Dropdown>
            </Menu>
          )}
        </Group>
      </Group>
      <Histogram query={query} range={range} onZoom={setRange} enabled={drawn || live} />
      <Group align="flex-start" gap="sm" wrap="nowrap">
        <FieldSidebar query={query} range={range} columns={columns}
          onFilter={(f, v, exclude) => update({ q: addFilter(query, f, v, exclude) })}
          onToggleColumn={(f) => update({ cols: (columns.includes(f) ? columns.filter((c) => c !== f) : [...columns, f]).join(",") })} />
        <Stack style={{ flex: 1, minWidth: 0 }} gap={4}>
          {results.isError && !error && <Text c="red" role="alert">{(results.error as Error).message}</Text>}
          {!results.isLoading && rows.length === 0 && <Text c="dimmed">{t(live ? "explorer.waitingLive" : "explorer.noResults")}</Text>}
          <ResultsTable rows={rows} columns={columns} onOpen={setOpened} onEnd={live ? undefined : onEnd} />
          {results.data && <Text fz="xs" c="dimmed">{t("explorer.window", { start: formatTime(results.data.pages[0].start), end: formatTime(results.data.pages[0].end) })}</Text>}
        </Stack>
      </Group>
      <EventView doc={opened} onClose={() => setOpened(null)} />
    </Stack>
  );
}
