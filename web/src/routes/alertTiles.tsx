import { Anchor, Card, Group, SimpleGrid, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { formatNumber, formatTime } from "../i18n";
import { entityText } from "../lib/alerts";
import { SEVERITIES, SEVERITY_COLOURS, SeverityBadge } from "./Alerts";

/** Open alerts by severity and the latest open ones; refreshed every 5 s (and at once when
 * the stream brings a detection: the dashboard invalidates ["alerts"]). */
export function AlertTiles() {
  const { t } = useTranslation();
  const open = useQuery({
    queryKey: ["alerts", "dashboard"],
    queryFn: async () => unwrap(await api.GET("/api/v1/alerts", { params: { query: { status: ["open"], limit: 500 } } })),
    refetchInterval: 5000,
  });
  const alerts = open.data?.data ?? [];
  const more = open.data?.next_cursor ? "+" : "";
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }}>
      <Card withBorder data-testid="tile-open-alerts">
        <Title order={3} size="h5" mb="xs">{t("dashboard.openAlerts")}</Title>
        <Group grow>
          {SEVERITIES.map((s) => (
            <Anchor key={s} component={Link} to={`/alerts?status=open&severity=${s}`} underline="never" data-testid={`open-${s}`}>
              <Text fz={32} fw={700} c={SEVERITY_COLOURS[s]}>{formatNumber(alerts.filter((a) => a.severity === s).length)}{more}</Text>
              <Text fz="sm">{t(`alerts.severities.${s}`)}</Text>
            </Anchor>
          ))}
        </Group>
      </Card>
      <Card withBorder data-testid="tile-latest-alerts">
        <Group justify="space-between" mb="xs">
          <Title order={3} size="h5">{t("dashboard.latestAlerts")}</Title>
          <Anchor component={Link} to="/alerts" fz="sm">{t("dashboard.allAlerts")}</Anchor>
        </Group>
        {alerts.length === 0 && <Text c="dimmed" fz="sm">{t("alerts.none")}</Text>}
        <Table fz="sm" verticalSpacing={2} layout="fixed">
          <Table.Tbody>
            {alerts.slice(0, 6).map((a) => (
              <Table.Tr key={a.id}>
                <Table.Td w={120}><SeverityBadge severity={a.severity} /></Table.Td>
                <Table.Td><Anchor component={Link} to={`/alerts/${a.id}`} fz="sm">{a.rule_title}</Anchor></Table.Td>
                <Table.Td w="30%"><Text fz="xs" ff="monospace" truncate>{entityText(a.entity)}</Text></Table.Td>
                <Table.Td w={150} fz="xs">{formatTime(a.last_seen)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </SimpleGrid>
  );
}
