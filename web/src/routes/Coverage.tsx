import { Anchor, Badge, Box, Button, Card, Drawer, Group, ScrollArea, SegmentedControl, Select, Stack, Switch, Text, Title, UnstyledButton } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";
import { api, type Schemas, unwrap } from "../api/client";
import { formatNumber } from "../i18n";
import { alertsLink, colourStep, type CoverageMode, coverageMax, coverageValue, stepColour, visibleTechniques } from "../lib/dashboard";

type Technique = Schemas["TechniqueCoverage"];
const DAYS = ["1", "7", "30", "90"];
const MODE_COLOUR: Record<CoverageMode, string> = { rules: "teal", hits: "orange" };

function Legend({ mode, max }: { mode: CoverageMode; max: number }) {
  const { t } = useTranslation();
  const steps = [0, 1, 2, 3, 4];
  return (
    <Group gap="xs" data-testid="coverage-legend" aria-label={t("coverage.legend")}>
      <Text fz="xs" c="dimmed">{t(`coverage.legendOf.${mode}`)}</Text>
      {steps.map((step) => {
        const { background, light } = stepColour(MODE_COLOUR[mode], step);
        // the smallest value giving this step, as colourStep rounds
        const from = step === 0 ? 0 : Math.max(1, Math.ceil(Math.expm1(((step - 1) / 4) * Math.log1p(max)) + 1e-9));
        return (
          <Box key={step} px={6} py={2} style={{ background, color: light ? "white" : "inherit", borderRadius: 2, fontSize: 11 }}>
            {step === 0 ? t("coverage.none") : `≥ ${formatNumber(from)}`}
          </Box>
        );
      })}
      <Box px={6} py={2} style={{ borderLeft: "4px solid var(--mantine-color-teal-6)", fontSize: 11 }}>{t("coverage.coveredMark")}</Box>
    </Group>
  );
}

function Cell({ technique, tactic, mode, max, onOpen }: { technique: Technique; tactic: string; mode: CoverageMode; max: number; onOpen: () => void }) {
  const { t } = useTranslation();
  const { background, light } = stepColour(MODE_COLOUR[mode], colourStep(coverageValue(technique, mode), max));
  const label = t("coverage.cell", { id: technique.id, name: technique.name, rules: technique.rules.length, hits: technique.hits, alerts: technique.alerts });
  return (
    <UnstyledButton onClick={onOpen} aria-label={label} title={label} data-testid={`cell-${tactic}-${technique.id}`}
      style={{ display: "block", width: "100%", background, color: light ? "white" : "inherit", padding: "3px 5px", borderRadius: 3, fontSize: 11, lineHeight: 1.25,
        borderLeft: technique.rules.length ? "4px solid var(--mantine-color-teal-6)" : "4px solid transparent" }}>
      <Text span fz={11} fw={500} lineClamp={2} c="inherit">{technique.name}</Text>
      <Group gap={4} justify="space-between" wrap="nowrap">
        <Text span fz={10} ff="monospace" c="inherit" opacity={0.8}>{technique.id}</Text>
        {(technique.rules.length > 0 || technique.hits > 0) && (
          <Text span fz={10} c="inherit">{formatNumber(technique.rules.length)} · {formatNumber(technique.hits)}</Text>
        )}
      </Group>
    </UnstyledButton>
  );
}

function Detail({ technique, days, titles, onClose }: { technique: Technique | null; days: number; titles: Record<string, string>; onClose: () => void }) {
  const { t } = useTranslation();
  const since = useMemo(() => new Date(Date.now() - days * 86_400_000).toISOString(), [days, technique]);
  return (
    <Drawer opened={technique !== null} onClose={onClose} position="right" size="md" title={technique ? `${technique.id} · ${technique.name}` : ""}>
      {technique && (
        <Stack data-testid="coverage-detail">
          <Anchor href={technique.url} target="_blank" rel="noreferrer" fz="sm">{t("coverage.onMitre")}</Anchor>
          <Group gap="xs">
            <Badge variant="light" color="teal">{t("coverage.rules", { count: technique.rules.length })}</Badge>
            <Badge variant="light" color="orange">{t("coverage.hits", { count: technique.hits, days })}</Badge>
            <Badge variant="light" color="red">{t("coverage.alerts", { count: technique.alerts, days })}</Badge>
          </Group>
          {technique.subtechniques.length > 0 && <Text fz="sm">{t("coverage.subtechniques")}: <Text span ff="monospace" fz="sm">{technique.subtechniques.join(", ")}</Text></Text>}
          {technique.rules.length === 0 && <Text c="dimmed" fz="sm">{t("coverage.noRule")}</Text>}
          <Stack gap={4}>
            {technique.rules.map((id) => (
              <Anchor key={id} component={Link} to={`/rules?q=${encodeURIComponent(id)}`} fz="sm">{titles[id] ?? id}</Anchor>
            ))}
          </Stack>
          <Group>
            <Button component={Link} to={alertsLink({ technique: technique.id, since })} size="xs" variant="light" data-testid="technique-alerts">{t("coverage.openAlerts")}</Button>
            <Button component={Link} to={`/rules?q=${encodeURIComponent(technique.id.toLowerCase())}`} size="xs" variant="default">{t("coverage.openRules")}</Button>
          </Group>
        </Stack>
      )}
    </Drawer>
  );
}

/** The ATT&CK matrix: tactics as columns (matrix order), every technique as a cell coloured by
 * the enabled rules covering it or by its recent hits; a cell opens its rules and alerts. */
export default function Coverage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const mode = (params.get("by") === "hits" ? "hits" : "rules") as CoverageMode;
  const days = DAYS.includes(params.get("days") ?? "") ? Number(params.get("days")) : 7;
  const coveredOnly = params.get("covered") === "1";
  const [open, setOpen] = useState<Technique | null>(null);
  const set = (key: string, value: string | null) => setParams((p) => { const n = new URLSearchParams(p); if (value === null) n.delete(key); else n.set(key, value); return n; }, { replace: true });
  const coverage = useQuery({
    queryKey: ["coverage", days],
    queryFn: async () => unwrap(await api.GET("/api/v1/dashboard/coverage", { params: { query: { days } } })),
    refetchInterval: 60_000,
  });
  const tactics = coverage.data?.tactics ?? [];
  const max = coverageMax(tactics, mode);
  const techniques = new Map(tactics.flatMap((c) => c.techniques.map((x) => [x.id, x] as const)));
  const covered = [...techniques.values()].filter((x) => x.rules.length > 0).length;
  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={2} size="h3">{t("coverage.title")}</Title>
          {coverage.data && (
            <Text fz="sm" c="dimmed" data-testid="coverage-summary">
              {t("coverage.summary", { covered, total: techniques.size, rules: Object.keys(coverage.data.rule_titles).length, version: coverage.data.attack_version })}
            </Text>
          )}
        </div>
        <Group align="flex-end">
          <SegmentedControl size="xs" value={mode} onChange={(v) => set("by", v === "hits" ? "hits" : null)} aria-label={t("coverage.colourBy")}
            data={[{ value: "rules", label: t("coverage.byRules") }, { value: "hits", label: t("coverage.byHits") }]} />
          <Select size="xs" w={190} label={t("coverage.window")} value={String(days)} allowDeselect={false} onChange={(v) => v && set("days", v === "7" ? null : v)}
            data={DAYS.map((d) => ({ value: d, label: t("coverage.days", { count: Number(d) }) }))} />
          <Switch size="xs" label={t("coverage.coveredOnly")} checked={coveredOnly} onChange={(e) => set("covered", e.currentTarget.checked ? "1" : null)} />
        </Group>
      </Group>
      <Legend mode={mode} max={max} />
      {coverage.isError && <Text c="red" role="alert">{(coverage.error as Error).message}</Text>}
      <Card withBorder p="xs">
        <ScrollArea type="auto" offsetScrollbars>
          <Group align="flex-start" gap={6} wrap="nowrap" data-testid="coverage-matrix">
            {tactics.map((tactic) => (
              <Stack key={tactic.shortname} gap={3} w={132} style={{ flexShrink: 0 }} role="group" aria-label={tactic.name} data-testid={`tactic-${tactic.shortname}`}>
                <Box mb={2}>
                  <Anchor href={`https://attack.mitre.org/tactics/${tactic.id}/`} target="_blank" rel="noreferrer" fz="xs" fw={700}>{tactic.name}</Anchor>
                  <Text fz={10} c="dimmed">{t("coverage.columnCount", { covered: tactic.covered, total: tactic.techniques.length })}</Text>
                </Box>
                {visibleTechniques(tactic.techniques, coveredOnly).map((technique) => (
                  <Cell key={technique.id} technique={technique} tactic={tactic.shortname} mode={mode} max={max} onOpen={() => setOpen(technique)} />
                ))}
              </Stack>
            ))}
          </Group>
        </ScrollArea>
      </Card>
      {(coverage.data?.unknown.length ?? 0) > 0 && (
        <Card withBorder>
          <Title order={3} size="h5" mb="xs">{t("coverage.unknown", { version: coverage.data?.attack_version })}</Title>
          <Group gap="xs">
            {coverage.data?.unknown.map((x) => (
              <Button key={x.id} size="compact-xs" variant="default" onClick={() => setOpen(x)}>{x.id} · {x.rules.length}</Button>
            ))}
          </Group>
        </Card>
      )}
      <Detail technique={open} days={days} titles={coverage.data?.rule_titles ?? {}} onClose={() => setOpen(null)} />
    </Stack>
  );
}
