import { Badge, Button, Card, Code, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { formatTime } from "../i18n";

function Channels() {
  const { t } = useTranslation();
  const channels = useQuery({ queryKey: ["channels"], queryFn: async () => unwrap(await api.GET("/api/v1/notify/channels")) });
  const routes = useQuery({ queryKey: ["routes"], queryFn: async () => unwrap(await api.GET("/api/v1/notify/routes")) });
  const test = useMutation({
    mutationFn: async (id: number) => {
      const answer = await api.POST("/api/v1/notify/channels/{channel_id}/test", { params: { path: { channel_id: id } } });
      if (answer.data) return answer.data;
      const detail = (answer.error as { detail?: unknown } | undefined)?.detail;
      return { delivered: false, answer: typeof detail === "string" ? detail : String(answer.response.status) };
    },
    onSuccess: (r) => notifications.show({ color: r.delivered ? "green" : "red", message: r.delivered ? t("settings.testSent") : t("settings.testFailed", { answer: r.answer }) }),
  });
  const names = new Map((channels.data?.data ?? []).map((c) => [c.id, c.name]));
  return (
    <Card withBorder>
      <Title order={3} size="h4" mb="xs">{t("settings.channels")}</Title>
      <Text fz="sm" c="dimmed" mb="sm">{t("settings.channelsHow")} <Code>/api/v1/notify</Code></Text>
      {(channels.data?.data ?? []).length === 0 && <Text c="dimmed" fz="sm">{t("settings.noChannel")}</Text>}
      <Table fz="sm" striped>
        <Table.Tbody>
          {(channels.data?.data ?? []).map((c) => (
            <Table.Tr key={c.id}>
              <Table.Td>{c.name}</Table.Td><Table.Td><Badge variant="outline">{c.kind}</Badge></Table.Td>
              <Table.Td><Text fz="xs" ff="monospace" lineClamp={1}>{JSON.stringify(c.config)}</Text></Table.Td>
              <Table.Td>{c.enabled ? t("settings.enabled") : t("settings.disabled")}</Table.Td>
              <Table.Td><Button size="compact-xs" variant="light" loading={test.isPending && test.variables === c.id} onClick={() => test.mutate(c.id)}>{t("settings.sendTest")}</Button></Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Title order={4} size="h5" mt="md" mb="xs">{t("settings.routes")}</Title>
      {(routes.data?.data ?? []).length === 0 && <Text c="dimmed" fz="sm">{t("settings.noRoute")}</Text>}
      <Table fz="sm" striped>
        <Table.Tbody>
          {(routes.data?.data ?? []).map((r) => (
            <Table.Tr key={r.id}>
              <Table.Td>{r.name}</Table.Td><Table.Td>→ {names.get(r.channel) ?? r.channel}</Table.Td>
              <Table.Td>{t(`settings.modes.${r.mode}`)}</Table.Td>
              <Table.Td><Text fz="xs" ff="monospace" lineClamp={1}>{JSON.stringify(r.match)}</Text></Table.Td>
              <Table.Td>{r.enabled ? t("settings.enabled") : t("settings.disabled")}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}

function Silences() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const silences = useQuery({ queryKey: ["silences"], queryFn: async () => unwrap(await api.GET("/api/v1/silences", { params: { query: { limit: 100 } } })) });
  const expire = useMutation({
    mutationFn: async (id: number) => unwrap(await api.DELETE("/api/v1/silences/{silence_id}", { params: { path: { silence_id: id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["silences"] }),
  });
  return (
    <Card withBorder>
      <Title order={3} size="h4" mb="xs">{t("settings.silences")}</Title>
      {(silences.data?.data ?? []).length === 0 && <Text c="dimmed" fz="sm">{t("settings.noSilence")}</Text>}
      <Table fz="sm" striped data-testid="silences-table">
        <Table.Tbody>
          {(silences.data?.data ?? []).map((s) => (
            <Table.Tr key={s.id}>
              <Table.Td><Badge color={s.active ? "green" : "gray"}>{t(s.active ? "settings.active" : "settings.expired")}</Badge></Table.Td>
              <Table.Td><Text fz="xs" ff="monospace">{s.matchers.map((m) => `${m.field}=${m.value}`).join(" ")}</Text></Table.Td>
              <Table.Td>{s.reason}</Table.Td><Table.Td>{s.author}</Table.Td>
              <Table.Td>{t("settings.until", { end: formatTime(s.ends_at) })}</Table.Td>
              <Table.Td>{t("settings.silencedAlerts", { count: s.alerts })}</Table.Td>
              <Table.Td>{s.active && <Button size="compact-xs" variant="light" color="red" onClick={() => expire.mutate(s.id)}>{t("settings.expire")}</Button>}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}

export function NotificationSettings() {
  return (
    <Stack>
      <Channels />
      <Silences />
    </Stack>
  );
}
