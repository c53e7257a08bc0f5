import { Anchor, Badge, Card, Group, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { formatNumber } from "../i18n";
import { LEVEL_COLOURS } from "../theme";

function technique(id: string) {
  return <Anchor key={id} href={`https://attack.mitre.org/techniques/${id.replace(".", "/")}/`} target="_blank" rel="noreferrer" fz="xs" mr={6}>{id}</Anchor>;
}

/** Every loaded rule and correlation with its level, ATT&CK techniques and counters. */
export default function Rules() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const filter = (params.get("q") ?? "").toLowerCase();
  const rules = useQuery({ queryKey: ["rules"], queryFn: async () => unwrap(await api.GET("/api/v1/detection/rules")), refetchInterval: 30_000 });
  const matches = (r: { title?: string | null; rule_id: string; tags?: string[] }) =>
    !filter || `${r.title ?? ""} ${r.rule_id} ${(r.tags ?? []).join(" ")}`.toLowerCase().includes(filter);
  const level = (l: string | null | undefined) => <Badge color={LEVEL_COLOURS[l ?? ""] ?? "gray"}>{t(`levels.${l ?? "unknown"}`, { defaultValue: l ?? "?" })}</Badge>;
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2} size="h3">{t("nav.rules")}</Title>
        <TextInput aria-label={t("rules.filter")} placeholder={t("rules.filter")} value={params.get("q") ?? ""} onChange={(e) => setParams(e.currentTarget.value ? { q: e.currentTarget.value } : {})} w={300} />
      </Group>
      <Text fz="sm" c="dimmed">{t("rules.readOnly")}</Text>
      <Card withBorder>
        <Title order={3} size="h4" mb="sm">{t("rules.detection", { count: rules.data?.count ?? 0 })}</Title>
        <Table.ScrollContainer minWidth={800}>
          <Table striped data-testid="rules-table">
            <Table.Thead><Table.Tr>
              <Table.Th>{t("rules.rule")}</Table.Th><Table.Th>{t("rules.level")}</Table.Th><Table.Th>{t("rules.techniques")}</Table.Th>
              <Table.Th>{t("rules.source")}</Table.Th><Table.Th ta="right">{t("rules.hits")}</Table.Th><Table.Th ta="right">{t("rules.evaluations")}</Table.Th><Table.Th>{t("rules.state")}</Table.Th>
            </Table.Tr></Table.Thead>
            <Table.Tbody>
              {(rules.data?.data ?? []).filter(matches).map((r) => (
                <Table.Tr key={r.rule_id}>
                  <Table.Td><Text fz="sm">{r.title ?? r.rule_id}</Text><Text fz="xs" c="dimmed" ff="monospace">{r.rule_id}</Text></Table.Td>
                  <Table.Td>{level(r.level)}</Table.Td>
                  <Table.Td>{(r.attack?.techniques ?? []).map(technique)}</Table.Td>
                  <Table.Td><Text fz="xs" ff="monospace">{r.source}</Text></Table.Td>
                  <Table.Td ta="right">{formatNumber(r.hits)}</Table.Td>
                  <Table.Td ta="right">{formatNumber(r.evaluations)}</Table.Td>
                  <Table.Td>{t(r.enabled ? (r.alert ? "rules.alerting" : "rules.feedsOnly") : "rules.off")}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Card>
      <Card withBorder>
        <Title order={3} size="h4" mb="sm">{t("rules.correlations", { count: rules.data?.correlation_count ?? 0 })}</Title>
        <Table.ScrollContainer minWidth={800}>
          <Table striped>
            <Table.Thead><Table.Tr>
              <Table.Th>{t("rules.rule")}</Table.Th><Table.Th>{t("rules.level")}</Table.Th><Table.Th>{t("rules.type")}</Table.Th>
              <Table.Th>{t("rules.condition")}</Table.Th><Table.Th>{t("rules.techniques")}</Table.Th><Table.Th ta="right">{t("rules.hits")}</Table.Th>
            </Table.Tr></Table.Thead>
            <Table.Tbody>
              {(rules.data?.correlations ?? []).filter(matches).map((c) => (
                <Table.Tr key={c.rule_id}>
                  <Table.Td><Text fz="sm">{c.title}</Text><Text fz="xs" c="dimmed">{c.rules.map((r) => r.title ?? r.reference).join(", ")}</Text></Table.Td>
                  <Table.Td>{level(c.level)}</Table.Td>
                  <Table.Td><Text fz="xs" ff="monospace">{c.type}</Text></Table.Td>
                  <Table.Td><Text fz="xs" ff="monospace">{c.condition} / {c.timespan}{c.group_by.length ? ` / ${c.group_by.join(", ")}` : ""}</Text></Table.Td>
                  <Table.Td>{(c.attack?.techniques ?? []).map(technique)}</Table.Td>
                  <Table.Td ta="right">{formatNumber(c.hits)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Card>
    </Stack>
  );
}
