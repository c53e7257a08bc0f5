import { Anchor, Card, Group, SimpleGrid, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { formatNumber, formatTime } from "../i18n";
import { entityText } from "../lib/alerts";
import { SEVERITIES, SEVERITY_COLOURS, SeverityBadge } from "../components/SeverityBadge";

/** Open alerts by severity (counted by the server) and the latest open ones; refreshed every
 * 5 s, and at once when the stream brings a detection (the dashboard invalidates ["alerts"]). */
export function AlertTiles() {
  const { t } = useTranslation();
  const counts = useQuery({
    queryKey: ["alerts", "dashboard", "counts"],
    queryFn: async () => unwrap(await api.GET("/api/v1/dashboard/alert-counts")),
    refetchInterval: 5000,
  });
  const latest = useQuery({
    queryKey: ["alerts", "dashboard", "latest"],
    queryFn: async () => unwrap(await api.GET("/api/v1/alerts", { params: { query: { status: ["open"], limit: 6 } } })),
    refetchInterval: 5000,
  });
  const alerts = latest.data?.data ?? [];
  const acknowledged = counts.data ? SEVERITIES.reduce((n, s) => n + counts.data.acknowledged[s], 0) : 0;
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }}>
      <Card withBorder data-testid="tile-open-alerts">
        <Title order={3} size="h5" mb="xs">{t("dashboard.openAlerts")}</Title>
        <Group grow>
          {SEVERITIES.map((s) => (
            <Anchor key={s} component={Link} to={`/alerts?status=open&severity=${s}`} underline="never" data-testid={`open-${s}`}>
              <Text fz={32} fw={700} c={SEVERITY_COLOURS[s]}>{counts.data ? formatNumber(counts.data.open[s]) : "…"}</Text>
              <Text fz="sm">{t(`alerts.severities.${s}`)}</Text>
            </Anchor>
          ))}
        </Group>
        <Anchor component={Link} to="/alerts?status=acknowledged" fz="sm" data-testid="acknowledged-count">
          {t("dashboard.acknowledged", { count: acknowledged, formatted: formatNumber(acknowledged) })}
        </Anchor>
      </Card>
      <Card withBorder data-testid="tile-latest-alerts">
        <Group justify="space-between" mb="xs">
          <Title order={3} size="h5">{t("dashboard.latestAlerts")}</Title>
          <Anchor component={Link} to="/alerts" fz="sm">{t("dashboard.allAlerts")}</Anchor>
        </Group>
        {alerts.length === 0 && !latest.isLoading && <Text c="dimmed" fz="sm">{t("alerts.none")}</Text>}
        <Table fz="sm" verticalSpacing={2} layout="fixed">
          <Table.Tbody>
            {alerts.map((a) => (
              <Table.Tr key={a.id}>
                <Table.Td w={100}><SeverityBadge severity={a.severity} /></Table.Td>
                <Table.Td>
                  <Anchor component={Link} to={`/alerts/${a.id}`} fz="sm" display="block" truncate="end">{a.rule_title}</Anchor>
                  <Text fz="xs" ff="monospace" c="dimmed" truncate>{entityText(a.entity)}</Text>
                </Table.Td>
                <Table.Td w={130} fz="xs">{formatTime(a.last_seen)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </SimpleGrid>
  );
}
