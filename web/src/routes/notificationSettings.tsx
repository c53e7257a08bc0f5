import { Badge, Button, Card, Checkbox, Code, Group, Modal, MultiSelect, NumberInput, PasswordInput, SegmentedControl, Select, Stack, Switch, Table, Text, Textarea, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, type Schemas, unwrap } from "../api/client";
import { formatTime } from "../i18n";
import {
  type ChannelForm, channelBody, channelToForm, EMPTY_CHANNEL, EMPTY_ROUTE, parseEntity, type RouteForm, routeBody, routeToForm, SMTP_PORTS,
} from "../lib/channels";

function failed(e: unknown) {
  notifications.show({ color: "red", message: (e as Error).message });
}

function ChannelEditor({ channel, onClose }: { channel: Schemas["ChannelPublic"] | null; onClose: () => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [form, setForm] = useState<ChannelForm>(channel ? channelToForm(channel) : EMPTY_CHANNEL);
  const set = (patch: Partial<ChannelForm>) => setForm((f) => ({ ...f, ...patch }));
  const save = useMutation({
    mutationFn: async () => {
      const body = channelBody(form);
      if (channel) return unwrap(await api.PUT("/api/v1/notify/channels/{channel_id}", { params: { path: { channel_id: channel.id } }, body }));
      return unwrap(await api.POST("/api/v1/notify/channels", { body }));
    },
    onSuccess: (saved) => {
      void client.invalidateQueries({ queryKey: ["channels"] });
      notifications.show({ message: t("settings.channelSaved", { name: saved.name }) });
      onClose();
    },
    onError: failed,
  });
  const secretHelp = channel?.has_secret ? t("settings.secretKept") : t("settings.secretWriteOnly");
  return (
    <form onSubmit={(e) => { e.preventDefault(); save.mutate(); }} data-testid="channel-form">
      <Stack gap="sm">
        <Group grow align="flex-start">
          <TextInput label={t("settings.name")} value={form.name} onChange={(e) => set({ name: e.currentTarget.value })} required description={t("settings.nameHelp")} />
          <Select label={t("settings.kind")} data={[{ value: "email", label: t("settings.kinds.email") }, { value: "webhook", label: t("settings.kinds.webhook") }]}
            value={form.kind} onChange={(v) => v && set({ kind: v as ChannelForm["kind"] })} allowDeselect={false} />
        </Group>
        {form.kind === "email" ? (
          <>
            <Group grow align="flex-start">
              <TextInput label={t("settings.smtpHost")} value={form.host} onChange={(e) => set({ host: e.currentTarget.value })} required />
              <Select label={t("settings.tlsMode")} value={form.security} allowDeselect={false}
                data={(["starttls", "tls", "none"] as const).map((m) => ({ value: m, label: t(`settings.tlsModes.${m}`) }))}
                onChange={(v) => v && set({ security: v as ChannelForm["security"], port: SMTP_PORTS[v as ChannelForm["security"]] })} />
              <NumberInput label={t("settings.port")} value={form.port} min={1} max={65535} onChange={(v) => set({ port: String(v) })} required />
            </Group>
            <Group grow align="flex-start">
              <TextInput label={t("settings.smtpUser")} value={form.username} onChange={(e) => set({ username: e.currentTarget.value })} autoComplete="off" />
              <PasswordInput label={t("settings.smtpPassword")} description={secretHelp} value={form.password} onChange={(e) => set({ password: e.currentTarget.value })} autoComplete="new-password" />
            </Group>
            <TextInput label={t("settings.sender")} value={form.sender} onChange={(e) => set({ sender: e.currentTarget.value })} required placeholder="guetteur@example.org" />
            <TextInput label={t("settings.recipients")} description={t("settings.recipientsHelp")} value={form.recipients} onChange={(e) => set({ recipients: e.currentTarget.value })} required />
          </>
        ) : (
          <>
            <Select label={t("settings.webhookFormat")} value={form.flavour} allowDeselect={false}
              data={(["json", "slack", "mattermost", "teams"] as const).map((f) => ({ value: f, label: t(`settings.formats.${f}`) }))}
              onChange={(v) => v && set({ flavour: v as ChannelForm["flavour"] })} />
            <TextInput label={t("settings.url")} value={form.url} onChange={(e) => set({ url: e.currentTarget.value })} required placeholder="https://" />
            {form.flavour === "json" && (
              <PasswordInput label={t("settings.hmacKey")} description={secretHelp} value={form.hmacKey} onChange={(e) => set({ hmacKey: e.currentTarget.value })} autoComplete="new-password" />
            )}
          </>
        )}
        <Group grow align="flex-start">
          <Select label={t("settings.language")} value={form.language} allowDeselect={false}
            data={[{ value: "", label: t("settings.languageDefault") }, { value: "fr", label: "Français" }, { value: "en", label: "English" }]}
            onChange={(v) => set({ language: (v ?? "") as ChannelForm["language"] })} />
          <TextInput label={t("settings.throttle")} description={t("settings.throttleHelp")} value={form.throttle} onChange={(e) => set({ throttle: e.currentTarget.value })} inputMode="numeric" />
        </Group>
        <Group>
          <Checkbox label={t("settings.verifyTls")} checked={form.verifyTls} onChange={(e) => set({ verifyTls: e.currentTarget.checked })} />
          <Switch label={t("settings.enabledLabel")} checked={form.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
        </Group>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>{t("settings.cancel")}</Button>
          <Button type="submit" loading={save.isPending}>{t("settings.save")}</Button>
        </Group>
      </Stack>
    </form>
  );
}

function RouteEditor({ route, channels, onClose }: { route: Schemas["RoutePublic"] | null; channels: Schemas["ChannelPublic"][]; onClose: () => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [form, setForm] = useState<RouteForm>(route ? routeToForm(route) : { ...EMPTY_ROUTE, channel: channels[0] ? String(channels[0].id) : "" });
  const set = (patch: Partial<RouteForm>) => setForm((f) => ({ ...f, ...patch }));
  const bad = parseEntity(form.entity).bad;
  const save = useMutation({
    mutationFn: async () => {
      const body = routeBody(form);
      if (route) return unwrap(await api.PUT("/api/v1/notify/routes/{route_id}", { params: { path: { route_id: route.id } }, body }));
      return unwrap(await api.POST("/api/v1/notify/routes", { body }));
    },
    onSuccess: (saved) => {
      void client.invalidateQueries({ queryKey: ["routes"] });
      notifications.show({ message: t("settings.routeSaved", { name: saved.name }) });
      onClose();
    },
    onError: failed,
  });
  return (
    <form onSubmit={(e) => { e.preventDefault(); if (!bad) save.mutate(); }} data-testid="route-form">
      <Stack gap="sm">
        <Group grow align="flex-start">
          <TextInput label={t("settings.name")} value={form.name} onChange={(e) => set({ name: e.currentTarget.value })} required description={t("settings.nameHelp")} />
          <Select label={t("settings.channel")} data={channels.map((c) => ({ value: String(c.id), label: c.name }))} value={form.channel}
            onChange={(v) => v && set({ channel: v })} allowDeselect={false} required />
        </Group>
        <MultiSelect label={t("settings.matchSeverities")} description={t("settings.matchAny")} value={form.severities}
          data={(["critical", "medium", "low"] as const).map((s) => ({ value: s, label: t(`alerts.severities.${s}`) }))} onChange={(v) => set({ severities: v })} />
        <Group grow align="flex-start">
          <TextInput label={t("settings.matchRules")} description={t("settings.globsHelp")} value={form.rules} onChange={(e) => set({ rules: e.currentTarget.value })} />
          <TextInput label={t("settings.matchTags")} description={t("settings.globsHelp")} value={form.tags} onChange={(e) => set({ tags: e.currentTarget.value })} placeholder="attack.t1110*" />
        </Group>
        <Textarea label={t("settings.matchEntity")} description={t("settings.entityHelp")} value={form.entity} autosize minRows={2}
          onChange={(e) => set({ entity: e.currentTarget.value })} error={bad ? t("settings.entityBad", { line: bad }) : null} placeholder="host.name=web-*" />
        <Group align="flex-end">
          <SegmentedControl value={form.mode} onChange={(v) => set({ mode: v as RouteForm["mode"] })}
            data={[{ value: "immediate", label: t("settings.modes.immediate") }, { value: "digest", label: t("settings.modes.digest") }]} />
          {form.mode === "digest" && (
            <NumberInput label={t("settings.digestMinutes")} value={form.digestMinutes} min={1} max={10080} onChange={(v) => set({ digestMinutes: String(v) })} w={180} />
          )}
          <Switch label={t("settings.enabledLabel")} checked={form.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
        </Group>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>{t("settings.cancel")}</Button>
          <Button type="submit" loading={save.isPending} disabled={!form.channel}>{t("settings.save")}</Button>
        </Group>
      </Stack>
    </form>
  );
}

type Editing<T> = { item: T | null } | null;

function describeMatch(t: (k: string, o?: Record<string, unknown>) => string, m: Schemas["MatchBody"]): string {
  const parts = [
    ...(m.severities?.length ? [m.severities.map((s) => t(`alerts.severities.${s}`)).join("/")] : []),
    ...(m.rules ?? []).map((r) => `rule ${r}`), ...(m.tags ?? []).map((g) => `tag ${g}`),
    ...Object.entries(m.entity ?? {}).map(([k, v]) => `${k}=${v}`),
  ];
  return parts.length ? parts.join(" · ") : t("settings.everyAlert");
}

export function NotificationSettings() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const channels = useQuery({ queryKey: ["channels"], queryFn: async () => unwrap(await api.GET("/api/v1/notify/channels")) });
  const routes = useQuery({ queryKey: ["routes"], queryFn: async () => unwrap(await api.GET("/api/v1/notify/routes")) });
  const [channelEdit, setChannelEdit] = useState<Editing<Schemas["ChannelPublic"]>>(null);
  const [routeEdit, setRouteEdit] = useState<Editing<Schemas["RoutePublic"]>>(null);
  const [results, setResults] = useState<Record<number, { delivered: boolean; answer: string }>>({});
  const test = useMutation({
    mutationFn: async (id: number) => {
      const answer = await api.POST("/api/v1/notify/channels/{channel_id}/test", { params: { path: { channel_id: id } } });
      if (answer.data) return { id, ...answer.data };
      const detail = (answer.error as { detail?: unknown } | undefined)?.detail;
      return { id, delivered: false, answer: typeof detail === "string" ? detail : String(answer.response.status) };
    },
    onSuccess: (r) => {
      setResults((all) => ({ ...all, [r.id]: r }));
      notifications.show({ color: r.delivered ? "green" : "red", message: r.delivered ? t("settings.testSent") : t("settings.testFailed", { answer: r.answer }) });
    },
  });
  const remove = useMutation({
    mutationFn: async (args: { kind: "channel" | "route"; id: number }) => {
      const answer = args.kind === "channel"
        ? await api.DELETE("/api/v1/notify/channels/{channel_id}", { params: { path: { channel_id: args.id } } })
        : await api.DELETE("/api/v1/notify/routes/{route_id}", { params: { path: { route_id: args.id } } });
      if (!answer.response.ok) throw new Error(String(answer.response.status));
    },
    onSuccess: () => { void client.invalidateQueries({ queryKey: ["channels"] }); void client.invalidateQueries({ queryKey: ["routes"] }); },
    onError: failed,
  });
  const channelList = channels.data?.data ?? [];
  const names = new Map(channelList.map((c) => [c.id, c.name]));
  return (
    <Stack>
      <Card withBorder>
        <Group justify="space-between" mb="xs">
          <Title order={3} size="h4">{t("settings.channels")}</Title>
          <Button size="xs" onClick={() => setChannelEdit({ item: null })}>{t("settings.newChannel")}</Button>
        </Group>
        <Text fz="sm" c="dimmed" mb="sm">{t("settings.channelsIntro")}</Text>
        {channelList.length === 0 && <Text c="dimmed" fz="sm">{t("settings.noChannel")}</Text>}
        <Table fz="sm" striped data-testid="channels-table">
          <Table.Tbody>
            {channelList.map((c) => {
              const result = results[c.id];
              return (
                <Table.Tr key={c.id} data-testid={`channel-${c.name}`}>
                  <Table.Td>{c.name}</Table.Td><Table.Td><Badge variant="outline">{t(`settings.kinds.${c.kind}`)}</Badge></Table.Td>
                  <Table.Td><Text fz="xs" ff="monospace" lineClamp={1}>{String(c.config.kind === "email" ? `${c.config.host}:${c.config.port}` : c.config.url)}</Text></Table.Td>
                  <Table.Td>{c.enabled ? t("settings.enabled") : t("settings.disabled")}</Table.Td>
                  <Table.Td>
                    {result && <Badge color={result.delivered ? "green" : "red"} data-testid="test-result" title={result.answer}>{result.delivered ? t("settings.testOk") : t("settings.testKo")}</Badge>}
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button size="compact-xs" variant="light" loading={test.isPending && test.variables === c.id} onClick={() => test.mutate(c.id)}>{t("settings.sendTest")}</Button>
                      <Button size="compact-xs" variant="default" onClick={() => setChannelEdit({ item: c })}>{t("settings.edit")}</Button>
                      <Button size="compact-xs" variant="light" color="red" onClick={() => remove.mutate({ kind: "channel", id: c.id })}>{t("settings.delete")}</Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
        <Group justify="space-between" mt="md" mb="xs">
          <Title order={4} size="h5">{t("settings.routes")}</Title>
          <Button size="xs" variant="light" disabled={channelList.length === 0} onClick={() => setRouteEdit({ item: null })}>{t("settings.newRoute")}</Button>
        </Group>
        {(routes.data?.data ?? []).length === 0 && <Text c="dimmed" fz="sm">{t("settings.noRoute")}</Text>}
        <Table fz="sm" striped data-testid="routes-table">
          <Table.Tbody>
            {(routes.data?.data ?? []).map((r) => (
              <Table.Tr key={r.id}>
                <Table.Td>{r.name}</Table.Td><Table.Td>→ {names.get(r.channel) ?? r.channel}</Table.Td>
                <Table.Td>{r.mode === "digest" ? t("settings.digestEvery", { minutes: r.digest_minutes }) : t("settings.modes.immediate")}</Table.Td>
                <Table.Td><Text fz="xs">{describeMatch(t, r.match)}</Text></Table.Td>
                <Table.Td>{r.enabled ? t("settings.enabled") : t("settings.disabled")}</Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Button size="compact-xs" variant="default" onClick={() => setRouteEdit({ item: r })}>{t("settings.edit")}</Button>
                    <Button size="compact-xs" variant="light" color="red" onClick={() => remove.mutate({ kind: "route", id: r.id })}>{t("settings.delete")}</Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
      <Modal opened={channelEdit !== null} onClose={() => setChannelEdit(null)} size="lg"
        title={channelEdit?.item ? t("settings.editChannel", { name: channelEdit.item.name }) : t("settings.newChannel")}>
        {channelEdit && <ChannelEditor channel={channelEdit.item} onClose={() => setChannelEdit(null)} />}
      </Modal>
      <Modal opened={routeEdit !== null} onClose={() => setRouteEdit(null)} size="lg"
        title={routeEdit?.item ? t("settings.editRoute", { name: routeEdit.item.name }) : t("settings.newRoute")}>
        {routeEdit && <RouteEditor route={routeEdit.item} channels={channelList} onClose={() => setRouteEdit(null)} />}
      </Modal>
    </Stack>
  );
}

export function Silences() {
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
      <Text fz="sm" c="dimmed" mb="sm">{t("settings.silencesIntro")}</Text>
      {(silences.data?.data ?? []).length === 0 && <Text c="dimmed" fz="sm">{t("settings.noSilence")}</Text>}
      <Table fz="sm" striped data-testid="silences-table">
        <Table.Tbody>
          {(silences.data?.data ?? []).map((s) => (
            <Table.Tr key={s.id}>
              <Table.Td><Badge color={s.active ? "green" : "gray"}>{t(s.active ? "settings.active" : "settings.expired")}</Badge></Table.Td>
              <Table.Td><Code fz="xs">{s.matchers.map((m) => `${m.field}=${m.value}`).join(" ")}</Code></Table.Td>
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
