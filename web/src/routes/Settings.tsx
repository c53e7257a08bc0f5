import { Badge, Button, Card, Code, Group, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { formatTime } from "../i18n";
import { NotificationSettings } from "./notificationSettings";

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
      <Text fz="sm" c="dimmed" mb="sm">{t("audit.verifyHow")} <Code>guetteur verify</Code></Text>
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
                <Table.Td><Badge color={r.outcome === "success" ? "green" : "red"}>{t(`audit.outcomes.${r.outcome}`, { defaultValue: r.outcome })}</Badge></Table.Td>
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

export default function Settings() {
  const { t } = useTranslation();
  return (
    <Stack>
      <Title order={2} size="h3">{t("nav.settings")}</Title>
      <NotificationSettings />
      <AuditTrail />
    </Stack>
  );
}
