import { Anchor, Badge, Button, Card, FileButton, Group, Loader, Stack, Switch, Table, Text, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { useTranslation } from "react-i18next";
import { Link, Route, Routes, useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { allows, useMe } from "../hooks/useMe";
import { formatNumber, formatTime } from "../i18n";
import { LEVEL_COLOURS } from "../theme";

// the rule page brings CodeMirror (the "editor" chunk): loaded when a rule is opened, not for the list
const RuleView = lazy(() => import("./RuleView"));

export function technique(id: string) {
  return <Anchor key={id} href={`https://attack.mitre.org/techniques/${id.replace(".", "/")}/`} target="_blank" rel="noreferrer" fz="xs" mr={6}>{id}</Anchor>;
}

export function LevelBadge({ level }: { level: string | null | undefined }) {
  const { t } = useTranslation();
  return <Badge color={LEVEL_COLOURS[level ?? ""] ?? "gray"}>{t(`levels.${level ?? "unknown"}`, { defaultValue: level ?? "?" })}</Badge>;
}

function failed(e: unknown) {
  notifications.show({ color: "red", message: (e as Error).message });
}

/** The rule list, the rule page (`/rules/:id`, `/rules/new`). */
export default function Rules() {
  return (
    <Suspense fallback={<Loader />}>
      <Routes>
        <Route index element={<RuleList />} />
        <Route path="new" element={<RuleView ruleId={null} />} />
        <Route path=":ruleId" element={<RuleView />} />
      </Routes>
    </Suspense>
  );
}

/** Every loaded rule and correlation with its level, ATT&CK techniques, hits, false-positive
 * ratio and on/off switch (admins); import and proposals. */
function RuleList() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const me = useMe();
  const isAdmin = allows(me.data?.role, "admin");
  const isAnalyst = allows(me.data?.role, "analyst");
  const [params, setParams] = useSearchParams();
  const filter = (params.get("q") ?? "").toLowerCase();
  const rules = useQuery({ queryKey: ["rules"], queryFn: async () => unwrap(await api.GET("/api/v1/detection/rules")), refetchInterval: 30_000 });
  const stats = useQuery({
    queryKey: ["rule-statistics"], enabled: me.data !== undefined,
    queryFn: async () => unwrap(await api.GET("/api/v1/alerts/rule-statistics", { params: { query: { days: 30 } } })),
    refetchInterval: 60_000,
  });
  const fpRatio = new Map((stats.data?.data ?? []).map((s) => [s.rule_id, s.false_positive_ratio]));
  const switchRule = useMutation({
    mutationFn: async (args: { id: string; enabled: boolean }) =>
      unwrap(await api.PUT("/api/v1/detection/rules/{rule_id}/enabled", { params: { path: { rule_id: args.id } }, body: { enabled: args.enabled } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["rules"] }),
    onError: failed,
  });
  const importFiles = useMutation({
    mutationFn: async (files: File[]) => {
      const texts = await Promise.all(files.map(async (f) => ({ name: f.name.slice(0, 255), yaml: await f.text() })));
      return unwrap(await api.POST("/api/v1/detection/rules/import", { body: { files: texts } }));
    },
    onSuccess: (result) => {
      notifications.show({ message: t("rules.imported", { saved: result.saved, refused: result.refused }), color: result.refused ? "orange" : undefined });
      for (const file of result.files.filter((f) => !f.saved)) {
        const first = (file.errors ?? [])[0];
        notifications.show({ color: "red", autoClose: false, message: t("rules.importRefused", { name: file.name, message: first ? (first.line ? t("rules.line", { line: first.line, message: first.message }) : first.message) : "?" }) });
      }
      void client.invalidateQueries({ queryKey: ["rules"] });
    },
    onError: failed,
  });
  const matches = (r: { title?: string | null; rule_id: string; tags?: string[] }) =>
    !filter || `${r.title ?? ""} ${r.rule_id} ${(r.tags ?? []).join(" ")}`.toLowerCase().includes(filter);
  const ratio = (id: string) => {
    const value = fpRatio.get(id);
    return value == null ? "–" : `${formatNumber(value * 100)} %`;
  };
  const title = (id: string, text: string | null | undefined) =>
    isAnalyst ? <Anchor component={Link} to={`/rules/${encodeURIComponent(id)}`} fz="sm">{text ?? id}</Anchor> : <Text fz="sm">{text ?? id}</Text>;
  const toggle = (id: string, label: string, enabled: boolean) => isAdmin
    ? <Switch checked={enabled} aria-label={t("rules.switchRule", { title: label })} data-testid={`switch-${id}`} disabled={switchRule.isPending}
        onChange={(e) => switchRule.mutate({ id, enabled: e.currentTarget.checked })} />
    : <Text fz="sm">{t(enabled ? "rules.on" : "rules.off")}</Text>;
  const origin = (o: string | null | undefined) => o ? <Badge variant="light" color={o === "local" ? "grape" : "gray"}>{t(`rules.origins.${o}`, { defaultValue: o })}</Badge> : null;
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2} size="h3">{t("nav.rules")}</Title>
        <Group>
          <TextInput aria-label={t("rules.filter")} placeholder={t("rules.filter")} value={params.get("q") ?? ""} onChange={(e) => setParams(e.currentTarget.value ? { q: e.currentTarget.value } : {})} w={260} />
          <Button component={Link} to="/coverage" variant="default">{t("nav.coverage")}</Button>
          {isAnalyst && <Button component={Link} to="/rules/new" data-testid="new-rule">{t("rules.newRule")}</Button>}
          {isAdmin && (
            <FileButton onChange={(files) => files.length && importFiles.mutate(files)} accept=".yml,.yaml,application/yaml,text/yaml" multiple>
              {(props) => <Button {...props} variant="light" loading={importFiles.isPending} data-testid="import-rules">{t("rules.import")}</Button>}
            </FileButton>
          )}
        </Group>
      </Group>
      <Text fz="sm" c="dimmed">{t(isAdmin ? "rules.intro" : isAnalyst ? "rules.introAnalyst" : "rules.readOnly")}</Text>
      {isAnalyst && <Proposals admin={isAdmin} />}
      <Card withBorder>
        <Title order={3} size="h4" mb="sm">{t("rules.detection", { count: rules.data?.count ?? 0 })}</Title>
        <Table.ScrollContainer minWidth={1000}>
          <Table striped data-testid="rules-table">
            <Table.Thead><Table.Tr>
              <Table.Th>{t("rules.rule")}</Table.Th><Table.Th>{t("rules.level")}</Table.Th><Table.Th>{t("rules.techniques")}</Table.Th>
              <Table.Th>{t("rules.origin")}</Table.Th><Table.Th ta="right">{t("rules.hits")}</Table.Th><Table.Th ta="right">{t("rules.hits24h")}</Table.Th>
              <Table.Th ta="right">{t("rules.fpRatio")}</Table.Th><Table.Th>{t("rules.state")}</Table.Th><Table.Th>{t("rules.enabled")}</Table.Th>
            </Table.Tr></Table.Thead>
            <Table.Tbody>
              {(rules.data?.data ?? []).filter(matches).map((r) => (
                <Table.Tr key={r.rule_id} data-testid={`rule-row-${r.rule_id}`}>
                  <Table.Td title={r.rule_id}>{title(r.rule_id, r.title)}</Table.Td>
                  <Table.Td><LevelBadge level={r.level} /></Table.Td>
                  <Table.Td>{(r.attack?.techniques ?? []).map(technique)}</Table.Td>
                  <Table.Td title={r.source ?? undefined}>{origin(r.origin)}</Table.Td>
                  <Table.Td ta="right">{formatNumber(r.hits)}</Table.Td>
                  <Table.Td ta="right">{formatNumber(r.hits_24h)}</Table.Td>
                  <Table.Td ta="right">{ratio(r.rule_id)}</Table.Td>
                  <Table.Td>{t(r.enabled ? (r.alert ? "rules.alerting" : "rules.feedsOnly") : "rules.off")}</Table.Td>
                  <Table.Td>{toggle(r.rule_id, r.title ?? r.rule_id, r.enabled)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Card>
      <Card withBorder>
        <Title order={3} size="h4" mb="sm">{t("rules.correlations", { count: rules.data?.correlation_count ?? 0 })}</Title>
        <Table.ScrollContainer minWidth={1000}>
          <Table striped>
            <Table.Thead><Table.Tr>
              <Table.Th>{t("rules.rule")}</Table.Th><Table.Th>{t("rules.level")}</Table.Th><Table.Th>{t("rules.type")}</Table.Th>
              <Table.Th>{t("rules.condition")}</Table.Th><Table.Th>{t("rules.techniques")}</Table.Th><Table.Th ta="right">{t("rules.hits")}</Table.Th>
              <Table.Th ta="right">{t("rules.fpRatio")}</Table.Th><Table.Th>{t("rules.enabled")}</Table.Th>
            </Table.Tr></Table.Thead>
            <Table.Tbody>
              {(rules.data?.correlations ?? []).filter(matches).map((c) => (
                <Table.Tr key={c.rule_id}>
                  <Table.Td>{title(c.rule_id, c.title)}<Text fz="xs" c="dimmed">{c.rules.map((r) => r.title ?? r.reference).join(", ")}</Text></Table.Td>
                  <Table.Td><LevelBadge level={c.level} /></Table.Td>
                  <Table.Td><Text fz="xs" ff="monospace">{c.type}</Text></Table.Td>
                  <Table.Td><Text fz="xs" ff="monospace">{c.condition} / {c.timespan}{c.group_by.length ? ` / ${c.group_by.join(", ")}` : ""}</Text></Table.Td>
                  <Table.Td>{(c.attack?.techniques ?? []).map(technique)}</Table.Td>
                  <Table.Td ta="right">{formatNumber(c.hits)}</Table.Td>
                  <Table.Td ta="right">{ratio(c.rule_id)}</Table.Td>
                  <Table.Td>{toggle(c.rule_id, c.title, c.enabled)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Card>
    </Stack>
  );
}

/** Rules analysts proposed: admins accept (saved as a local rule) or reject them. */
function Proposals({ admin }: { admin: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const proposals = useQuery({ queryKey: ["rule-proposals"], queryFn: async () => unwrap(await api.GET("/api/v1/detection/rules/proposals")) });
  const done = () => {
    void client.invalidateQueries({ queryKey: ["rule-proposals"] });
    void client.invalidateQueries({ queryKey: ["rules"] });
  };
  const accept = useMutation({
    mutationFn: async (id: string) => unwrap(await api.POST("/api/v1/detection/rules/proposals/{rule_id}/accept", { params: { path: { rule_id: id } } })),
    onSuccess: () => { notifications.show({ message: t("rules.saved") }); done(); },
    onError: failed,
  });
  const reject = useMutation({
    mutationFn: async (id: string) => unwrap(await api.DELETE("/api/v1/detection/rules/proposals/{rule_id}", { params: { path: { rule_id: id } } })),
    onSuccess: done,
    onError: failed,
  });
  if (!proposals.data?.count) return null;
  return (
    <Card withBorder data-testid="rule-proposals">
      <Title order={3} size="h4" mb="sm">{t("rules.proposals")}</Title>
      <Table>
        <Table.Tbody>
          {proposals.data.data.map((p) => (
            <Table.Tr key={p.rule_id}>
              <Table.Td><Text fz="sm">{p.title ?? p.rule_id}</Text><Text fz="xs" c="dimmed" ff="monospace">{p.rule_id}</Text></Table.Td>
              <Table.Td><Text fz="xs">{t("rules.proposedBy", { who: p.proposed_by ?? "?" })} · {formatTime(p.proposed_at)}</Text></Table.Td>
              <Table.Td>{admin && (
                <Group gap="xs">
                  <Button size="xs" onClick={() => accept.mutate(p.rule_id)} loading={accept.isPending}>{t("rules.accept")}</Button>
                  <Button size="xs" variant="default" onClick={() => reject.mutate(p.rule_id)} loading={reject.isPending}>{t("rules.reject")}</Button>
                </Group>
              )}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}
