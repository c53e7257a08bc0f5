// Settings saved from the console over the configuration file (`/api/v1/settings`): retention,
// asset criticality, statistical thresholds. Each value shows where it comes from.
import { ActionIcon, Alert, Badge, Button, Card, Group, NumberInput, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useState } from "react";
import { useTranslation } from "react-i18next";
import { api, type Schemas, unwrap } from "../api/client";
import { formatTime } from "../i18n";

type SettingsPublic = Schemas["SettingsPublic"];
type SectionName = "retention" | "criticality" | "stats";

function useSettings() {
  return useQuery({ queryKey: ["settings"], queryFn: async () => unwrap(await api.GET("/api/v1/settings")) });
}

function useSave<B>(section: SectionName) {
  const { t } = useTranslation();
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (body: B) => {
      if (section === "retention") return unwrap(await api.PUT("/api/v1/settings/retention", { body: body as Schemas["RetentionValue"] }));
      if (section === "criticality") return unwrap(await api.PUT("/api/v1/settings/criticality", { body: body as Schemas["CriticalityValue"] }));
      return unwrap(await api.PUT("/api/v1/settings/stats", { body: body as Schemas["StatsThresholds"] }));
    },
    onSuccess: (data: SettingsPublic) => {
      client.setQueryData(["settings"], data);
      notifications.show({ color: "green", message: t("prefs.saved") });
    },
    onError: (e) => notifications.show({ color: "red", message: (e as Error).message }),
  });
}

function useReset(section: SectionName) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async () => unwrap(await api.DELETE("/api/v1/settings/{section}", { params: { path: { section } } })),
    onSuccess: (data: SettingsPublic) => client.setQueryData(["settings"], data),
  });
}

export function SourceBadge({ source }: { source: string | undefined }) {
  const { t } = useTranslation();
  if (!source) return null;
  const colour = source === "console" ? "blue" : source === "config" ? "grape" : "gray";
  return <Badge size="xs" variant="light" color={colour} data-testid="source">{t(`prefs.sources.${source}`)}</Badge>;
}

function SectionCard({ section, title, intro, children, settings }: { section: SectionName; title: string; intro: ReactNode; children: ReactNode; settings: SettingsPublic }) {
  const { t } = useTranslation();
  const reset = useReset(section);
  const part = settings[section];
  return (
    <Card withBorder data-testid={`prefs-${section}`}>
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4">{title}</Title>
        {part.updated_by && (
          <Group gap="xs">
            <Text fz="xs" c="dimmed">{t("prefs.changedBy", { who: part.updated_by, when: part.updated_at ? formatTime(part.updated_at) : "" })}</Text>
            <Button size="compact-xs" variant="default" loading={reset.isPending} onClick={() => reset.mutate()}>{t("prefs.reset")}</Button>
          </Group>
        )}
      </Group>
      <Text fz="sm" c="dimmed" mb="sm">{intro}</Text>
      {children}
      <Text fz="xs" c="dimmed" mt="sm">{t("prefs.applies")}: {section === "retention" && settings.retention.enforced
        ? t("prefs.retentionEnforced") : t(`prefs.appliesWhen.${section}`, { seconds: settings.refresh_seconds })}</Text>
    </Card>
  );
}

function Retention({ settings }: { settings: SettingsPublic }) {
  const { t } = useTranslation();
  const part = settings.retention;
  const [value, setValue] = useState<Schemas["RetentionValue"]>(part.value);
  const save = useSave<Schemas["RetentionValue"]>("retention");
  const fields = ["events_days", "hits_days", "alerts_days"] as const;
  return (
    <SectionCard section="retention" title={t("prefs.retention")} intro={t("prefs.retentionIntro")} settings={settings}>
      {!part.enforced && <Alert color="yellow" variant="light" mb="sm" data-testid="retention-not-enforced">{t("prefs.retentionNotEnforced")}</Alert>}
      {part.last_run && <Text fz="sm" mb="sm" data-testid="retention-last-run">{part.last_run.error
        ? t("prefs.retentionLastRunError", { when: formatTime(part.last_run.started_at), error: part.last_run.error })
        : t("prefs.retentionLastRun", { when: formatTime(part.last_run.started_at), partitions: part.last_run.event_partitions,
          events: part.last_run.events, hits: part.last_run.hits, alerts: part.last_run.alerts })}</Text>}
      <form onSubmit={(e) => { e.preventDefault(); save.mutate(value); }}>
        <Group align="flex-end">
          {fields.map((f) => (
            <NumberInput key={f} label={<Group gap={6}>{t(`prefs.fields.${f}`)}<SourceBadge source={part.sources[f]} /></Group>}
              description={t("prefs.daysHelp")} min={0} max={36500} value={value[f] ?? 0} w={200}
              onChange={(v) => setValue((old) => ({ ...old, [f]: typeof v === "number" ? v : Number(v) || 0 }))} />
          ))}
          <Button type="submit" loading={save.isPending}>{t("settings.save")}</Button>
        </Group>
      </form>
    </SectionCard>
  );
}

type Level = "low" | "medium" | "high" | "extreme";
interface Row { kind: "hosts" | "users"; pattern: string; level: Level }
const LEVELS: Level[] = ["low", "medium", "high", "extreme"];
const ENTITY_FIELDS = (["hosts", "users"] as const).map((value) => ({ value, label: value === "hosts" ? "host.name" : "user.name" }));

/** The criticality maps as editable rows, and back (blank patterns dropped). */
export function criticalityRows(value: Schemas["CriticalityValue"]): Row[] {
  return [
    ...Object.entries(value.hosts ?? {}).map(([pattern, level]) => ({ kind: "hosts" as const, pattern, level: level as Level })),
    ...Object.entries(value.users ?? {}).map(([pattern, level]) => ({ kind: "users" as const, pattern, level: level as Level })),
  ];
}

export function criticalityValue(rows: Row[]): Schemas["CriticalityValue"] {
  const out: { hosts: Record<string, Level>; users: Record<string, Level> } = { hosts: {}, users: {} };
  for (const r of rows) if (r.pattern.trim()) out[r.kind][r.pattern.trim()] = r.level;
  return out;
}

function Criticality({ settings }: { settings: SettingsPublic }) {
  const { t } = useTranslation();
  const part = settings.criticality;
  const [rows, setRows] = useState<Row[]>(criticalityRows(part.value));
  const save = useSave<Schemas["CriticalityValue"]>("criticality");
  const change = (i: number, patch: Partial<Row>) => setRows((all) => all.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <SectionCard section="criticality" title={t("prefs.criticality")} intro={t("prefs.criticalityIntro")} settings={settings}>
      <Group gap="xs" mb="xs">
        <Text fz="xs">{t("prefs.fields.hosts")}</Text><SourceBadge source={part.sources.hosts} />
        <Text fz="xs">{t("prefs.fields.users")}</Text><SourceBadge source={part.sources.users} />
      </Group>
      <form onSubmit={(e) => { e.preventDefault(); save.mutate(criticalityValue(rows)); }}>
        <Table fz="sm" data-testid="criticality-table">
          <Table.Thead><Table.Tr><Table.Th>{t("prefs.entity")}</Table.Th><Table.Th>{t("prefs.pattern")}</Table.Th><Table.Th>{t("prefs.level")}</Table.Th><Table.Th /></Table.Tr></Table.Thead>
          <Table.Tbody>
            {rows.map((r, i) => (
              <Table.Tr key={i}>
                <Table.Td w={160}>
                  <Select size="xs" aria-label={t("prefs.entity")} value={r.kind} allowDeselect={false}
                    data={ENTITY_FIELDS} onChange={(v) => v && change(i, { kind: v as Row["kind"] })} />
                </Table.Td>
                <Table.Td><TextInput size="xs" aria-label={t("prefs.pattern")} value={r.pattern} placeholder="db-*" onChange={(e) => change(i, { pattern: e.currentTarget.value })} /></Table.Td>
                <Table.Td w={200}>
                  <Select size="xs" aria-label={t("prefs.level")} value={r.level} allowDeselect={false}
                    data={LEVELS.map((l) => ({ value: l, label: t(`prefs.levels.${l}`) }))} onChange={(v) => v && change(i, { level: v as Level })} />
                </Table.Td>
                <Table.Td w={40}><ActionIcon variant="subtle" color="red" aria-label={t("settings.delete")} onClick={() => setRows((all) => all.filter((_, j) => j !== i))}>✕</ActionIcon></Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Group mt="sm">
          <Button variant="default" size="xs" onClick={() => setRows((all) => [...all, { kind: "hosts", pattern: "", level: "high" }])}>{t("prefs.addPattern")}</Button>
          <Button type="submit" size="xs" loading={save.isPending}>{t("settings.save")}</Button>
        </Group>
      </form>
    </SectionCard>
  );
}

const STATS_FIELDS = [
  ["frequency_z", 0.1], ["frequency_p_value", null], ["frequency_min_count", 1], ["frequency_learning_minutes", 1],
  ["silent_min_seconds", 60], ["silent_gap_factor", 1], ["silent_learning", 2],
] as const;
const SIGMA_LEVELS = ["informational", "low", "medium", "high", "critical"] as const;

function Statistics({ settings }: { settings: SettingsPublic }) {
  const { t } = useTranslation();
  const part = settings.stats;
  const [value, setValue] = useState<Schemas["StatsThresholds"]>(part.value);
  const save = useSave<Schemas["StatsThresholds"]>("stats");
  return (
    <SectionCard section="stats" title={t("prefs.stats")} intro={t("prefs.statsIntro")} settings={settings}>
      <form onSubmit={(e) => { e.preventDefault(); save.mutate(value); }}>
        <Group align="flex-start" grow>
          <Stack gap="xs">
            {STATS_FIELDS.map(([f, min]) => (
              f === "frequency_p_value" ? (
                <TextInput key={f} label={<Group gap={6}>{t(`prefs.fields.${f}`)}<SourceBadge source={part.sources[f]} /></Group>}
                  value={String(value[f] ?? "")} onChange={(e) => { const raw = e.currentTarget.value; setValue((old) => ({ ...old, [f]: Number(raw) })); }} />
              ) : (
                <NumberInput key={f} label={<Group gap={6}>{t(`prefs.fields.${f}`)}<SourceBadge source={part.sources[f]} /></Group>}
                  min={min ?? undefined} decimalScale={f === "frequency_z" || f === "silent_gap_factor" ? 2 : 0} value={value[f] ?? undefined}
                  onChange={(v) => setValue((old) => ({ ...old, [f]: typeof v === "number" ? v : Number(v) }))} />
              )
            ))}
          </Stack>
          <Stack gap="xs">
            {(["frequency_level", "silent_level"] as const).map((f) => (
              <Select key={f} label={<Group gap={6}>{t(`prefs.fields.${f}`)}<SourceBadge source={part.sources[f]} /></Group>} value={value[f] ?? "low"} allowDeselect={false}
                data={SIGMA_LEVELS.map((l) => ({ value: l, label: l }))} onChange={(v) => v && setValue((old) => ({ ...old, [f]: v as typeof SIGMA_LEVELS[number] }))} />
            ))}
          </Stack>
        </Group>
        <Button type="submit" mt="sm" loading={save.isPending}>{t("settings.save")}</Button>
      </form>
    </SectionCard>
  );
}

/** One tab's content; the forms start from the values in force (remounted after a reset). */
export function RuntimeSettings({ section }: { section: SectionName }) {
  const { t } = useTranslation();
  const settings = useSettings();
  if (!settings.data) return <Text>{t("common.loading")}</Text>;
  const key = `${settings.data[section].updated_at ?? "file"}`;
  if (section === "retention") return <Retention key={key} settings={settings.data} />;
  if (section === "criticality") return <Criticality key={key} settings={settings.data} />;
  return <Statistics key={key} settings={settings.data} />;
}
