import { Alert, Anchor, Badge, Button, Card, Group, List, Loader, Stack, Switch, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, type Schemas, unwrap } from "../api/client";
import { RuleEditor } from "../components/RuleEditor";
import { allows, useMe } from "../hooks/useMe";
import { formatNumber } from "../i18n";
import { type Finding, newRuleText } from "../lib/ruleFindings";
import { LevelBadge, technique } from "./Rules";

type Saved = Schemas["SavedRule"];

function failed(e: unknown) {
  notifications.show({ color: "red", message: (e as Error).message });
}

function uuid(): string {
  return typeof crypto.randomUUID === "function" ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) => (Number(c) ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (Number(c) / 4)))).toString(16));
}

/** One rule: its facts, its YAML in the editor (validated as one types), "test on the last
 * 24 h", save (admins) or propose (analysts), on/off and deleting a local copy (admins).
 * `ruleId` null: a new rule. */
export default function RuleView({ ruleId: given }: { ruleId?: string | null }) {
  const { t } = useTranslation();
  const params = useParams();
  const ruleId = given === null ? null : (given ?? params.ruleId ?? null);
  const navigate = useNavigate();
  const client = useQueryClient();
  const me = useMe();
  const isAdmin = allows(me.data?.role, "admin");
  const rule = useQuery({
    queryKey: ["rule", ruleId], enabled: ruleId !== null, retry: false,
    queryFn: async () => unwrap(await api.GET("/api/v1/detection/rules/{rule_id}", { params: { path: { rule_id: ruleId ?? "" } } })),
  });
  const [text, setText] = useState<string | null>(ruleId === null ? newRuleText(uuid()) : null);
  const [findings, setFindings] = useState<Finding[] | null>(null);
  useEffect(() => {
    if (rule.data && text === null) setText(rule.data.yaml);
  }, [rule.data, text]);
  const validate = useCallback(async (yaml: string): Promise<Finding[]> => {
    const result = unwrap(await api.POST("/api/v1/detection/rules/validate", { body: { yaml } }));
    return [...result.errors, ...result.warnings];
  }, []);
  const errors = (findings ?? []).filter((f) => f.severity === "error");
  const warnings = (findings ?? []).filter((f) => f.severity === "warning");
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ["rules"] });
    void client.invalidateQueries({ queryKey: ["rule"] });
  };
  const test = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/detection/rules/test", { body: { yaml: text ?? "", hours: 24, max_events: 200_000 } })),
    onError: failed,
  });
  const save = useMutation({
    mutationFn: async (): Promise<Saved> => {
      const yaml = text ?? "";
      if (ruleId === null) return unwrap(await api.POST("/api/v1/detection/rules", { body: { yaml } }));
      const target = rule.data?.file_id ?? ruleId;
      return unwrap(await api.PUT("/api/v1/detection/rules/{rule_id}", { params: { path: { rule_id: target } }, body: { yaml } }));
    },
    onSuccess: (saved) => {
      notifications.show({ message: t("rules.saved") });
      refresh();
      if (ruleId === null) navigate(`/rules/${encodeURIComponent(saved.rule_id)}`, { replace: true });
    },
    onError: failed,
  });
  const propose = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/detection/rules/proposals", { body: { yaml: text ?? "" } })),
    onSuccess: () => { notifications.show({ message: t("rules.proposed") }); void client.invalidateQueries({ queryKey: ["rule-proposals"] }); },
    onError: failed,
  });
  const remove = useMutation({
    mutationFn: async () => unwrap(await api.DELETE("/api/v1/detection/rules/{rule_id}", { params: { path: { rule_id: rule.data?.file_id ?? ruleId ?? "" } } })),
    onSuccess: () => {
      notifications.show({ message: t("rules.deleted") });
      setText(null);
      refresh();
      if (rule.data?.origin === "local" && !rule.data.replaces) navigate("/rules");
    },
    onError: failed,
  });
  const switchRule = useMutation({
    mutationFn: async (enabled: boolean) =>
      unwrap(await api.PUT("/api/v1/detection/rules/{rule_id}/enabled", { params: { path: { rule_id: ruleId ?? "" } }, body: { enabled } })),
    onSuccess: refresh,
    onError: failed,
  });

  if (ruleId !== null && rule.isError) {
    return <Stack><Anchor component={Link} to="/rules">{t("rules.back")}</Anchor><Text role="alert">{t("rules.notFound")}</Text></Stack>;
  }
  if (text === null) return <Loader aria-label={t("common.loading")} />;
  const data = rule.data;
  const result = test.data;
  return (
    <Stack>
      <Anchor component={Link} to="/rules">{t("rules.back")}</Anchor>
      <Group justify="space-between" align="flex-start">
        <Stack gap={4}>
          <Title order={2} size="h3" data-testid="rule-title">{data?.title ?? t("rules.newRule")}</Title>
          {data && <Text fz="xs" c="dimmed" ff="monospace">{data.rule_id} · {data.file}</Text>}
        </Stack>
        {data && isAdmin && (
          <Switch checked={data.enabled} label={t("rules.enabled")} data-testid="rule-enabled" disabled={switchRule.isPending}
            onChange={(e) => switchRule.mutate(e.currentTarget.checked)} />
        )}
      </Group>
      {data && (
        <Group gap="xs">
          <LevelBadge level={data.level} />
          <Badge variant="light" color={data.origin === "local" ? "grape" : "gray"}>{t(`rules.origins.${data.origin}`)}</Badge>
          {!data.enabled && <Badge color="gray" data-testid="rule-off">{t("rules.off")}</Badge>}
          {(data.techniques ?? []).map(technique)}
          <Text fz="sm">{[
            t("rules.stat", { label: t("rules.hits24h"), value: formatNumber(data.hits_24h) }),
            t("rules.stat", { label: t("rules.hits7d"), value: formatNumber(data.hits_7d) }),
            t("rules.stat", { label: t("rules.alerts30d"), value: formatNumber(data.alerts_30d) }),
            t("rules.stat", { label: t("rules.fpRatio"), value: data.false_positive_ratio == null ? "–" : `${formatNumber(data.false_positive_ratio * 100)} %` }),
          ].join(" · ")}</Text>
        </Group>
      )}
      {data?.replaces && <Text fz="sm" c="dimmed">{t("rules.overrides", { file: data.replaces })}</Text>}
      {data?.origin === "builtin" && isAdmin && <Text fz="sm" c="dimmed">{t("rules.builtinNote")}</Text>}
      <Card withBorder p={0}>
        <RuleEditor value={text} onChange={setText} validate={validate} onFindings={setFindings} label={t("rules.editorLabel")} />
      </Card>
      <Stack gap={4} data-testid="rule-findings" aria-live="polite">
        {findings === null ? <Text fz="sm" c="dimmed">{t("rules.checking")}</Text>
          : errors.length === 0 && warnings.length === 0 ? <Text fz="sm" c="green" data-testid="rule-valid">{t("rules.valid")}</Text> : null}
        {errors.length > 0 && (
          <Alert color="red" title={t("rules.errors")} data-testid="rule-errors">
            <List size="sm">{errors.map((f, i) => <List.Item key={i}>{f.line ? t("rules.line", { line: f.line, message: f.message }) : f.message}</List.Item>)}</List>
          </Alert>
        )}
        {warnings.length > 0 && (
          <Alert color="yellow" title={t("rules.warnings")}>
            <List size="sm">{warnings.map((f, i) => <List.Item key={i}>{f.line ? t("rules.line", { line: f.line, message: f.message }) : f.message}</List.Item>)}</List>
          </Alert>
        )}
      </Stack>
      <Group>
        <Button variant="light" onClick={() => test.mutate()} loading={test.isPending} disabled={errors.length > 0} data-testid="rule-test">{t("rules.test")}</Button>
        {isAdmin && <Button onClick={() => save.mutate()} loading={save.isPending} disabled={errors.length > 0} data-testid="rule-save">{t("rules.save")}</Button>}
        {!isAdmin && <Button onClick={() => propose.mutate()} loading={propose.isPending} disabled={errors.length > 0} data-testid="rule-propose">{t("rules.propose")}</Button>}
        {isAdmin && data?.origin === "local" && (
          <Button color="red" variant="subtle" onClick={() => remove.mutate()} loading={remove.isPending} data-testid="rule-delete">
            {t(data.replaces ? "rules.deleteOverride" : "rules.deleteLocal")}
          </Button>
        )}
      </Group>
      {result && (
        <Card withBorder data-testid="rule-test-result">
          <Text fw={500}>{t("rules.testResult", { matches: formatNumber(result.matches), events: formatNumber(result.events_replayed) })}</Text>
          {result.truncated && <Text fz="sm" c="orange">{t(`rules.testStopped.${result.truncated}`)}</Text>}
          {result.never_present.length > 0 && <Text fz="sm" c="orange">{t("rules.neverPresent", { fields: result.never_present.join(", ") })}</Text>}
          {result.examples.length > 0 && (
            <List size="sm" mt="xs">
              {result.examples.filter((m) => m.event_id).map((m) => (
                <List.Item key={m.event_id}>
                  <Anchor component={Link} to={`/explorer?q=${encodeURIComponent(`event.id:"${m.event_id}"`)}&start=now-7d`} fz="sm" ff="monospace">{m.event_id}</Anchor>
                  {m.host ? ` · ${m.host}` : ""}{m.time ? ` · ${m.time}` : ""}
                </List.Item>
              ))}
            </List>
          )}
        </Card>
      )}
    </Stack>
  );
}
