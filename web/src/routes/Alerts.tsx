import { Anchor, Badge, Button, Card, Checkbox, Code, Group, Popover, Select, Stack, Table, Text, Textarea, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, Route, Routes, useParams, useSearchParams } from "react-router-dom";
import { api, type Schemas, unwrap } from "../api/client";
import { ResultsTable } from "../components/ResultsTable";
import { EventView } from "../components/EventView";
import { SEVERITIES, SeverityBadge } from "../components/SeverityBadge";
import { allows, useMe } from "../hooks/useMe";
import { formatNumber, formatTime } from "../i18n";
import { entityQuery, entityText, type Grouping, groupAlerts } from "../lib/alerts";
import type { Doc } from "../lib/event";
import { quoteValue } from "../lib/kql";
import { explorerLink } from "../lib/links";

const STATUSES = ["open", "acknowledged", "closed"] as const;
const REASONS = ["true_positive", "false_positive", "benign_positive", "duplicate", "other"] as const;
type Status = (typeof STATUSES)[number];
type Reason = (typeof REASONS)[number];
type Alert = Schemas["AlertPublic"];

function technique(id: string) {
  return <Anchor key={id} href={`https://attack.mitre.org/techniques/${id.replace(".", "/")}/`} target="_blank" rel="noreferrer" fz="xs" mr={6}>{id}</Anchor>;
}

function failed(e: unknown) {
  notifications.show({ color: "red", message: (e as Error).message });
}

function useTriage(onDone: () => void) {
  return useMutation({
    mutationFn: async (args: { ids: number[]; status?: Status; close_reason?: Reason; assignee?: string | null }) => {
      const { ids, ...change } = args;
      if (ids.length === 1) return [unwrap(await api.PATCH("/api/v1/alerts/{alert_id}", { params: { path: { alert_id: ids[0] } }, body: change }))];
      const result = unwrap(await api.POST("/api/v1/alerts/bulk", { body: { ids, ...change } }));
      if (result.failed.length) throw new Error(result.failed.map((f) => `#${f.id}: ${f.reason}`).join("; "));
      return result.updated;
    },
    onSuccess: onDone,
    onError: failed,
  });
}

function CloseButton({ onClose, disabled }: { onClose: (reason: Reason) => void; disabled?: boolean }) {
  const { t } = useTranslation();
  const [reason, setReason] = useState<Reason>("true_positive");
  const [opened, setOpened] = useState(false);
  return (
    <Popover opened={opened} onChange={setOpened} trapFocus withArrow>
      <Popover.Target><Button size="xs" variant="light" color="gray" disabled={disabled} onClick={() => setOpened((o) => !o)}>{t("alerts.close")}</Button></Popover.Target>
      <Popover.Dropdown>
        <Stack>
          <Select label={t("alerts.closeReason")} data={REASONS.map((r) => ({ value: r, label: t(`alerts.reasons.${r}`) }))} value={reason} onChange={(v) => v && setReason(v as Reason)} allowDeselect={false} comboboxProps={{ withinPortal: false }} />
          <Button size="xs" onClick={() => { onClose(reason); setOpened(false); }}>{t("alerts.confirmClose")}</Button>
        </Stack>
      </Popover.Dropdown>
    </Popover>
  );
}

function AlertList() {
  const { t } = useTranslation();
  const me = useMe();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const status = (params.get("status") ?? "open") as Status | "all";
  const severity = params.get("severity");
  const grouping = (params.get("group") ?? "none") as Grouping;
  const [selected, setSelected] = useState<number[]>([]);
  const set = (key: string, value: string | null) => setParams((p) => { const n = new URLSearchParams(p); if (value === null) n.delete(key); else n.set(key, value); return n; });
  // filters the dashboard's and coverage page's links set (lib/dashboard.ts alertsLink)
  const filters = {
    host: params.get("host"), user: params.get("user"), rule_id: params.get("rule_id"), source_ip: params.get("source_ip"),
    tactic: params.get("tactic"), technique: params.get("technique"), since: params.get("since"), until: params.get("until"),
  };
  const alerts = useQuery({
    queryKey: ["alerts", status, severity, filters],
    queryFn: async () => unwrap(await api.GET("/api/v1/alerts", { params: { query: {
      status: status === "all" ? undefined : [status], severity: severity ? [severity as "low"] : undefined, limit: 200,
      ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v)),
    } } })),
    refetchInterval: 5000,
  });
  const refresh = () => { setSelected([]); void client.invalidateQueries({ queryKey: ["alerts"] }); };
  const triage = useTriage(refresh);
  const analyst = allows(me.data?.role, "analyst");
  const rows = alerts.data?.data ?? [];
  const toggle = (id: number) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));

  return (
    <Stack>
      <Title order={2} size="h3">{t("nav.alerts")}</Title>
      <Group align="flex-end">
        <Select label={t("alerts.status")} w={170} allowDeselect={false} value={status} onChange={(v) => v && set("status", v)}
          data={[...STATUSES.map((s) => ({ value: s, label: t(`alerts.statuses.${s}`) })), { value: "all", label: t("alerts.all") }]} />
        <Select label={t("alerts.severity")} w={150} clearable value={severity} onChange={(v) => set("severity", v)}
          data={SEVERITIES.map((s) => ({ value: s, label: t(`alerts.severities.${s}`) }))} placeholder={t("alerts.all")} />
        <Select label={t("alerts.groupBy")} w={170} allowDeselect={false} value={grouping} onChange={(v) => v && set("group", v)}
          data={(["none", "rule", "entity"] as const).map((g) => ({ value: g, label: t(`alerts.grouping.${g}`) }))} />
        {Object.entries(filters).filter(([, v]) => v).map(([k, v]) => (
          <Badge key={k} variant="outline" data-testid={`filter-${k}`} rightSection={<Anchor component="button" onClick={() => set(k, null)} aria-label={t("alerts.removeFilter")}>×</Anchor>}>
            {k === "since" || k === "until" ? `${t(`alerts.filters.${k}`)} ${formatTime(v)}` : `${k}: ${v}`}
          </Badge>
        ))}
      </Group>
      {analyst && (
        <Group gap="xs" data-testid="bulk-actions">
          <Text fz="sm">{t("alerts.selected", { count: selected.length })}</Text>
          <Button size="xs" variant="light" disabled={!selected.length} onClick={() => triage.mutate({ ids: selected, status: "acknowledged" })}>{t("alerts.acknowledge")}</Button>
          <CloseButton disabled={!selected.length} onClose={(reason) => triage.mutate({ ids: selected, status: "closed", close_reason: reason })} />
        </Group>
      )}
      {rows.length === 0 && !alerts.isLoading && <Text c="dimmed">{t("alerts.none")}</Text>}
      {groupAlerts(rows, grouping).map((group) => (
        <Card withBorder key={group.key} p="xs">
          {grouping !== "none" && <Title order={3} size="h5" mb="xs">{group.label} <Text span c="dimmed" fz="sm">({group.alerts.length})</Text></Title>}
          <Table.ScrollContainer minWidth={900}>
            <Table striped fz="sm" data-testid="alerts-table">
              <Table.Thead><Table.Tr>
                {analyst && <Table.Th w={30}><Checkbox aria-label={t("alerts.selectAll")} checked={group.alerts.every((a) => selected.includes(a.id))}
                  onChange={(e) => setSelected((s) => e.currentTarget.checked ? [...new Set([...s, ...group.alerts.map((a) => a.id)])] : s.filter((id) => !group.alerts.some((a) => a.id === id)))} /></Table.Th>}
                <Table.Th>{t("alerts.severity")}</Table.Th><Table.Th>{t("alerts.alert")}</Table.Th><Table.Th>{t("alerts.entity")}</Table.Th>
                <Table.Th>{t("alerts.status")}</Table.Th><Table.Th ta="right">{t("alerts.count")}</Table.Th><Table.Th>{t("alerts.lastSeen")}</Table.Th><Table.Th>{t("alerts.assignee")}</Table.Th>
              </Table.Tr></Table.Thead>
              <Table.Tbody>
                {group.alerts.map((a: Alert) => (
                  <Table.Tr key={a.id}>
                    {analyst && <Table.Td><Checkbox aria-label={t("alerts.select", { id: a.id })} checked={selected.includes(a.id)} onChange={() => toggle(a.id)} /></Table.Td>}
                    <Table.Td><SeverityBadge severity={a.severity} /></Table.Td>
                    <Table.Td><Anchor component={Link} to={`/alerts/${a.id}`}>{a.rule_title}</Anchor>{a.silenced && <Badge ml="xs" color="gray" size="xs">{t("alerts.silenced")}</Badge>}</Table.Td>
                    <Table.Td><Text fz="xs" ff="monospace">{entityText(a.entity)}</Text></Table.Td>
                    <Table.Td>{t(`alerts.statuses.${a.status}`)}</Table.Td>
                    <Table.Td ta="right">{formatNumber(a.count)}</Table.Td>
                    <Table.Td>{formatTime(a.last_seen)}</Table.Td>
                    <Table.Td>{a.assignee ?? "—"}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Card>
      ))}
    </Stack>
  );
}

function AlertPage() {
  const { t } = useTranslation();
  const { id } = useParams();
  const alertId = Number(id);
  const me = useMe();
  const client = useQueryClient();
  const [comment, setComment] = useState("");
  const [assignee, setAssignee] = useState("");
  const [opened, setOpened] = useState<Doc | null>(null);
  const [silenceOpen, setSilenceOpen] = useState(false);
  const [silenceMinutes, setSilenceMinutes] = useState("60");
  const detail = useQuery({
    queryKey: ["alert", alertId],
    queryFn: async () => unwrap(await api.GET("/api/v1/alerts/{alert_id}", { params: { path: { alert_id: alertId } } })),
    enabled: Number.isFinite(alertId),
    refetchInterval: 10_000,
  });
  const refresh = () => { void client.invalidateQueries({ queryKey: ["alert", alertId] }); void client.invalidateQueries({ queryKey: ["alerts"] }); };
  const triage = useTriage(refresh);
  const addComment = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/alerts/{alert_id}/comments", { params: { path: { alert_id: alertId } }, body: { text: comment } })),
    onSuccess: () => { setComment(""); refresh(); },
    onError: failed,
  });
  const silence = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/alerts/{alert_id}/silence", { params: { path: { alert_id: alertId } },
      body: { reason: t("alerts.silenceReason", { id: alertId }), duration_minutes: Number(silenceMinutes), match_rule: true } })),
    onSuccess: (s) => { setSilenceOpen(false); refresh(); notifications.show({ message: t("alerts.silencedUntil", { end: formatTime(s.ends_at) }) }); },
    onError: failed,
  });
  if (detail.isError) return <Text c="red" role="alert">{(detail.error as Error).message}</Text>;
  const a = detail.data;
  if (!a) return <Text>{t("common.loading")}</Text>;
  const analyst = allows(me.data?.role, "analyst");
  const ids = [alertId];
  return (
    <Stack>
      <Anchor component={Link} to="/alerts" fz="sm">← {t("alerts.back")}</Anchor>
      <Group justify="space-between" align="flex-start">
        <div>
          <Title order={2} size="h3" data-testid="alert-title">{a.rule_title}</Title>
          <Group gap="xs" mt={4}>
            <SeverityBadge severity={a.severity} />
            <Badge variant="outline" data-testid="alert-status">{t(`alerts.statuses.${a.status}`)}</Badge>
            {a.close_reason && <Badge variant="outline" color="gray">{t(`alerts.reasons.${a.close_reason}`)}</Badge>}
            {a.silenced && <Badge color="gray">{t("alerts.silenced")}</Badge>}
            <Text fz="sm">{t("alerts.risk")}: {a.risk_score}</Text>
          </Group>
        </div>
        {analyst && (
          <Group gap="xs">
            {a.status === "open" && <Button size="xs" onClick={() => triage.mutate({ ids, status: "acknowledged" })}>{t("alerts.acknowledge")}</Button>}
            {a.status !== "closed" && <CloseButton onClose={(reason) => triage.mutate({ ids, status: "closed", close_reason: reason })} />}
            {a.status === "closed" && <Button size="xs" variant="light" onClick={() => triage.mutate({ ids, status: "open" })}>{t("alerts.reopen")}</Button>}
            <Popover opened={silenceOpen} onChange={setSilenceOpen} withArrow>
              <Popover.Target><Button size="xs" variant="light" color="gray" onClick={() => setSilenceOpen((o) => !o)}>{t("alerts.silence")}</Button></Popover.Target>
              <Popover.Dropdown>
                <Stack w={260}>
                  <Text fz="sm">{t("alerts.silenceWhat", { entity: entityText(a.entity) || "—" })}</Text>
                  <Select label={t("alerts.silenceFor")} value={silenceMinutes} onChange={(v) => v && setSilenceMinutes(v)} allowDeselect={false} comboboxProps={{ withinPortal: false }}
                    data={["60", "240", "1440", "10080"].map((m) => ({ value: m, label: t(`alerts.durations.${m}`) }))} />
                  <Button size="xs" onClick={() => silence.mutate()} loading={silence.isPending}>{t("alerts.silenceConfirm")}</Button>
                </Stack>
              </Popover.Dropdown>
            </Popover>
          </Group>
        )}
      </Group>
      <Card withBorder>
        <Table fz="sm" verticalSpacing={4}>
          <Table.Tbody>
            <Table.Tr><Table.Th w={200}>{t("alerts.entity")}</Table.Th><Table.Td>
              {Object.keys(a.entity).length ? <Anchor component={Link} to={explorerLink(entityQuery(a.entity, quoteValue), "now-7d")} ff="monospace" fz="sm">{entityText(a.entity)}</Anchor> : "—"}
            </Table.Td></Table.Tr>
            <Table.Tr><Table.Th>{t("rules.techniques")}</Table.Th><Table.Td>{a.techniques.map(technique)} <Text span fz="xs" c="dimmed">{a.tactics.join(", ")}</Text></Table.Td></Table.Tr>
            <Table.Tr><Table.Th>{t("alerts.seen")}</Table.Th><Table.Td>{formatTime(a.first_seen)} → {formatTime(a.last_seen)} · {t("alerts.detections", { count: a.count })} · {t("alerts.eventsTotal", { count: a.event_total })}</Table.Td></Table.Tr>
            <Table.Tr><Table.Th>{t("alerts.assignee")}</Table.Th><Table.Td>
              <Group gap="xs">
                <Text fz="sm" data-testid="alert-assignee">{a.assignee ?? "—"}</Text>
                {analyst && (
                  <>
                    <Button size="compact-xs" variant="light" onClick={() => triage.mutate({ ids, assignee: me.data?.name ?? null })}>{t("alerts.assignMe")}</Button>
                    <TextInput size="xs" w={140} aria-label={t("alerts.assignTo")} placeholder={t("alerts.assignTo")} value={assignee} onChange={(e) => setAssignee(e.currentTarget.value)} />
                    <Button size="compact-xs" variant="light" disabled={!assignee.trim()} onClick={() => { triage.mutate({ ids, assignee: assignee.trim() }); setAssignee(""); }}>{t("alerts.assign")}</Button>
                  </>
                )}
              </Group>
            </Table.Td></Table.Tr>
          </Table.Tbody>
        </Table>
      </Card>
      <Card withBorder>
        <Title order={3} size="h5" mb="xs">{t("alerts.events")}</Title>
        <ResultsTable rows={a.events as Doc[]} columns={["@timestamp", "host.name", "user.name", "source.ip", "message"]} onOpen={setOpened} />
      </Card>
      <Card withBorder>
        <Title order={3} size="h5" mb="xs">{t("alerts.timeline")}</Title>
        <ResultsTable rows={a.timeline as Doc[]} columns={["@timestamp", "host.name", "user.name", "event.action", "message"]} onOpen={setOpened} />
      </Card>
      {a.risk_contributions.length > 0 && (
        <Card withBorder>
          <Title order={3} size="h5" mb="xs">{t("alerts.riskContributions")}</Title>
          {a.risk_contributions.map((c, i) => <Code key={i} block mb={4}>{JSON.stringify(c)}</Code>)}
        </Card>
      )}
      <Card withBorder>
        <Title order={3} size="h5" mb="xs">{t("alerts.history")}</Title>
        <Stack gap={4} data-testid="alert-history">
          {a.history.map((h) => (
            <Text key={h.id} fz="sm">
              <Text span c="dimmed">{formatTime(h.at)}</Text> · <b>{h.actor}</b> · {t(`alerts.actions.${h.action}`)}
              {h.action === "commented" ? `: ${String(h.details.text ?? "")}` : h.details.reason ? ` (${t(`alerts.reasons.${String(h.details.reason)}`, { defaultValue: String(h.details.reason) })})` : ""}
            </Text>
          ))}
        </Stack>
        {analyst && (
          <form onSubmit={(e) => { e.preventDefault(); addComment.mutate(); }}>
            <Group align="flex-end" mt="sm">
              <Textarea style={{ flex: 1 }} label={t("alerts.comment")} value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={1} maxLength={4000} />
              <Button type="submit" disabled={!comment.trim()} loading={addComment.isPending}>{t("alerts.addComment")}</Button>
            </Group>
          </form>
        )}
      </Card>
      <EventView doc={opened} onClose={() => setOpened(null)} />
    </Stack>
  );
}

export default function Alerts() {
  return (
    <Routes>
      <Route index element={<AlertList />} />
      <Route path=":id" element={<AlertPage />} />
    </Routes>
  );
}
