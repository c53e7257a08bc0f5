import { Alert, Anchor, Badge, Button, Card, Code, CopyButton, Group, Loader, NumberInput, SimpleGrid, Stack, Table, Tabs, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { formatNumber } from "../i18n";
import { arrivedSince, SENDER_SOURCE, senderConfigs } from "../lib/senders";

/** How to connect a sender: configuration for this server, a fresh ingest key, a live
 * confirmation once the first events of the chosen sender's transport are stored, and the
 * per-source counters (refreshed every 2 s). */
export default function Sources() {
  const { t } = useTranslation();
  const [host, setHost] = useState(window.location.hostname);
  const [syslogPort, setSyslogPort] = useState<number>(5514);
  const [key, setKey] = useState<string | null>(null);
  const [sender, setSender] = useState<string>("rsyslog");
  const health = useQuery({
    queryKey: ["health-details"],
    queryFn: async () => unwrap(await api.GET("/api/v1/health/details")),
    refetchInterval: 2000,
  });
  // The stored counters when the page first had them: what arrives later is the new sender's.
  const [baseline, setBaseline] = useState<Record<string, number> | null>(null);
  useEffect(() => {
    if (baseline === null && health.data) {
      setBaseline(Object.fromEntries(Object.entries(health.data.sources ?? {}).map(([name, s]) => [name, s.stored])));
    }
  }, [baseline, health.data]);
  const source = SENDER_SOURCE[sender] ?? "syslog-tcp";
  const arrived = baseline === null ? 0 : arrivedSince(baseline, health.data?.sources ?? {}, source);
  const newKey = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/keys", { body: { name: `source-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}`, scope: "ingest" } })),
    onSuccess: (created) => setKey(created.token),
  });
  const configs = senderConfigs({ host, syslogPort, apiUrl: window.location.origin, key: key ?? t("sources.keyPlaceholder") });
  const sources = Object.entries(health.data?.sources ?? {});
  return (
    <Stack>
      <Title order={2} size="h3">{t("nav.sources")}</Title>
      <Card withBorder>
        <Title order={3} size="h4" mb="xs">{t("sources.connect")}</Title>
        <Text fz="sm" mb="sm">{t("sources.intro")}</Text>
        <Group align="flex-end" mb="sm">
          <TextInput label={t("sources.host")} value={host} onChange={(e) => setHost(e.currentTarget.value)} />
          <NumberInput label={t("sources.syslogPort")} value={syslogPort} onChange={(v) => setSyslogPort(Number(v) || 5514)} min={1} max={65535} w={140} />
          <Button onClick={() => newKey.mutate()} loading={newKey.isPending} data-testid="new-ingest-key">{t("sources.newKey")}</Button>
        </Group>
        {key && <Text fz="sm" c="yellow.8" mb="sm" data-testid="key-ready">{t("sources.keyReady")}</Text>}
        <Tabs value={sender} onChange={(v) => setSender(v ?? "rsyslog")}>
          <Tabs.List>
            {configs.map((c) => <Tabs.Tab key={c.id} value={c.id}>{c.title}</Tabs.Tab>)}
          </Tabs.List>
          {configs.map((c) => (
            <Tabs.Panel key={c.id} value={c.id} pt="sm">
              <Text fz="sm" mb="xs">{t(`sources.help.${c.id}`)}</Text>
              {c.path && <Text fz="xs" c="dimmed">{c.path}</Text>}
              <Code block data-testid={`config-${c.id}`}>{c.text}</Code>
              <CopyButton value={c.text}>
                {({ copied, copy }) => <Button size="xs" mt="xs" variant="light" onClick={copy}>{t(copied ? "common.copied" : "common.copy")}</Button>}
              </CopyButton>
            </Tabs.Panel>
          ))}
        </Tabs>
        <div aria-live="polite" data-testid="first-events">
          {arrived > 0 ? (
            <Alert color="green" mt="sm" title={t("sources.arrivedTitle")} data-testid="first-events-arrived">
              {t("sources.arrived", { count: arrived, source })}{" "}
              <Anchor component={Link} to={`/explorer?q=${encodeURIComponent(`input.type:"${source}"`)}&start=now-24h&end=now`}>
                {t("sources.seeThem")}
              </Anchor>
            </Alert>
          ) : (
            <Group mt="sm" gap="xs"><Loader size="xs" /><Text fz="sm" c="dimmed">{t("sources.waiting", { source })}</Text></Group>
          )}
        </div>
      </Card>
      <Card withBorder>
        <Title order={3} size="h4" mb="xs">{t("sources.counters")}</Title>
        {sources.length === 0 && <Text c="dimmed">{t("sources.none")}</Text>}
        <SimpleGrid cols={{ base: 1 }}>
          <Table striped fz="sm" data-testid="source-counters">
            <Table.Thead><Table.Tr>
              <Table.Th>{t("sources.source")}</Table.Th><Table.Th ta="right">{t("sources.received")}</Table.Th><Table.Th ta="right">{t("sources.stored")}</Table.Th>
              <Table.Th ta="right">{t("sources.unparsed")}</Table.Th><Table.Th ta="right">{t("sources.dropped")}</Table.Th><Table.Th>{t("sources.health")}</Table.Th>
            </Table.Tr></Table.Thead>
            <Table.Tbody>
              {sources.map(([name, s]) => (
                <Table.Tr key={name}>
                  <Table.Td><Code>{name}</Code></Table.Td>
                  <Table.Td ta="right">{formatNumber(s.received)}</Table.Td><Table.Td ta="right">{formatNumber(s.stored)}</Table.Td>
                  <Table.Td ta="right">{formatNumber(s.unparsed)}</Table.Td><Table.Td ta="right">{formatNumber(s.dropped)}</Table.Td>
                  <Table.Td><Badge color={s.dropped > 0 ? "orange" : s.received > 0 ? "green" : "gray"}>{t(s.dropped > 0 ? "sources.dropping" : s.received > 0 ? "sources.receiving" : "sources.silent")}</Badge></Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </SimpleGrid>
      </Card>
    </Stack>
  );
}
