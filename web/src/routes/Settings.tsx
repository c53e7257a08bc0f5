import { Alert, Badge, Button, Card, Code, Group, Stack, Table, Tabs, Text, TextInput, Title } from "@mantine/core";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { formatNumber, formatTime } from "../i18n";
import { NotificationSettings, Silences } from "./notificationSettings";
import { RuntimeSettings } from "./runtimeSettings";

/** The audit chain recomputed by the server, and the last event-store verification. */
function Verification() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const verify = useQuery({
    queryKey: ["audit-verify"],
    queryFn: async () => unwrap(await api.GET("/api/v1/audit/verify")),
    refetchInterval: (q) => (q.state.data?.store_running ? 2000 : false),
  });
  const again = useMutation({
    mutationFn: async () => unwrap(await api.GET("/api/v1/audit/verify", { params: { query: { fresh: true } } })),
    onSuccess: (data) => client.setQueryData(["audit-verify"], data),
  });
  const start = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/audit/verify/store")),
    onSuccess: (data) => client.setQueryData(["audit-verify"], data),
  });
  const audit = verify.data?.audit;
  const store = verify.data?.store;
  return (
    <Card withBorder data-testid="verification">
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4">{t("audit.verification")}</Title>
        <Button size="xs" variant="default" loading={verify.isFetching || again.isPending} onClick={() => again.mutate()}>{t("audit.verifyAgain")}</Button>
      </Group>
      {audit && (
        <Group gap="sm" mb="xs">
          <Badge size="lg" color={audit.ok ? "green" : "red"} data-testid="audit-verified">{audit.ok ? t("audit.intact") : t("audit.broken")}</Badge>
          <Text fz="sm">{audit.ok ? t("audit.rowsVerified", { count: audit.rows_checked, formatted: formatNumber(audit.rows_checked) })
            : t("audit.brokenAt", { seq: audit.first_broken_seq, reason: audit.reason })}</Text>
          {audit.head_hash && <Text fz="xs" c="dimmed">{t("audit.head")} <Code fz="xs">{audit.head_hash.slice(0, 16)}…</Code></Text>}
          <Text fz="xs" c="dimmed">{t("audit.walkedAt", { when: formatTime(audit.verified_at) })}</Text>
        </Group>
      )}
      <Group gap="sm">
        <Text fz="sm" fw={500}>{t("audit.storeChain")}</Text>
        {store ? (
          <>
            <Badge color={store.ok ? "green" : "red"} data-testid="store-verified">{store.ok ? t("audit.intact") : t("audit.broken")}</Badge>
            <Text fz="sm">{store.ok ? t("audit.storeOk", { batches: formatNumber(store.batches_checked), rows: formatNumber(store.rows_checked) })
              : t("audit.storeBroken", { batch: store.first_broken_batch ?? "-", reason: store.reason })}</Text>
            <Text fz="xs" c="dimmed">{t("audit.storeWhen", { when: formatTime(store.finished_at), who: store.started_by })}</Text>
          </>
        ) : <Text fz="sm" c="dimmed">{t("audit.storeNever")}</Text>}
        <Button size="compact-xs" variant="light" loading={start.isPending || verify.data?.store_running} onClick={() => start.mutate()}>{t("audit.storeStart")}</Button>
      </Group>
      <Text fz="xs" c="dimmed" mt="xs">{t("audit.storeHow")} <Code>guetteur verify</Code></Text>
      {audit && !audit.ok && <Alert color="red" mt="sm" role="alert">{t("audit.brokenHelp")}</Alert>}
    </Card>
  );
}

function AuditTrail() {
  const { t } = useTranslation();
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const audit = useInfiniteQuery({
    queryKey: ["audit", actor, action],
    queryFn: async ({ pageParam }) => unwrap(await api.GET("/api/v1/audit", { params: { query: { limit: 100, before: pageParam, actor: actor || null, action: action || null } } })),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before,
  });
  const rows = (audit.data?.pages ?? []).flatMap((p) => p.data);
  return (
    <Card withBorder>
      <Title order={3} size="h4" mb="xs">{t("audit.title")}</Title>
      <Text fz="sm" c="dimmed" mb="sm">{t("audit.verifyHow")}</Text>
      <Group mb="sm">
        <TextInput size="xs" label={t("audit.actor")} value={actor} onChange={(e) => setActor(e.currentTarget.value)} />
        <TextInput size="xs" label={t("audit.action")} value={action} onChange={(e) => setAction(e.currentTarget.value)} />
      </Group>
      <Table.ScrollContainer minWidth={800}>
        <Table striped fz="sm" data-testid="audit-table">
          <Table.Thead><Table.Tr>
            <Table.Th>#</Table.Th><Table.Th>{t("audit.at")}</Table.Th><Table.Th>{t("audit.actor")}</Table.Th><Table.Th>{t("audit.action")}</Table.Th>
            <Table.Th>{t("audit.outcome")}</Table.Th><Table.Th>{t("audit.address")}</Table.Th><Table.Th>{t("audit.target")}</Table.Th><Table.Th>{t("audit.detail")}</Table.Th>
          </Table.Tr></Table.Thead>
          <Table.Tbody>
            {rows.map((r) => (
              <Table.Tr key={r.seq}>
                <Table.Td>{r.seq}</Table.Td><Table.Td>{formatTime(r.at)}</Table.Td><Table.Td>{r.actor}</Table.Td>
                <Table.Td><Code>{r.action}</Code></Table.Td>
                <Table.Td><Badge color={r.outcome === "success" ? "green" : "red"} style={{ minWidth: "fit-content", overflow: "visible" }}>{t(`audit.outcomes.${r.outcome}`, { defaultValue: r.outcome })}</Badge></Table.Td>
                <Table.Td>{r.source_address}</Table.Td><Table.Td>{r.target}</Table.Td>
                <Table.Td><Text fz="xs" ff="monospace" lineClamp={2}>{JSON.stringify(r.detail)}</Text></Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {audit.hasNextPage && <Button variant="default" mt="sm" onClick={() => void audit.fetchNextPage()}>{t("common.more")}</Button>}
    </Card>
  );
}

const TABS = ["notifications", "silences", "retention", "criticality", "stats", "audit"] as const;
type Tab = (typeof TABS)[number];

export default function Settings() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const tab: Tab = TABS.includes(params.get("tab") as Tab) ? (params.get("tab") as Tab) : "notifications";
  return (
    <Stack>
      <Title order={2} size="h3">{t("nav.settings")}</Title>
      <Tabs value={tab} onChange={(v) => v && setParams({ tab: v }, { replace: true })} keepMounted={false}>
        <Tabs.List mb="md">
          {TABS.map((name) => <Tabs.Tab key={name} value={name}>{t(`prefs.tabs.${name}`)}</Tabs.Tab>)}
        </Tabs.List>
        <Tabs.Panel value="notifications"><NotificationSettings /></Tabs.Panel>
        <Tabs.Panel value="silences"><Silences /></Tabs.Panel>
        <Tabs.Panel value="retention"><RuntimeSettings section="retention" /></Tabs.Panel>
        <Tabs.Panel value="criticality"><RuntimeSettings section="criticality" /></Tabs.Panel>
        <Tabs.Panel value="stats"><RuntimeSettings section="stats" /></Tabs.Panel>
        <Tabs.Panel value="audit"><Stack><Verification /><AuditTrail /></Stack></Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
