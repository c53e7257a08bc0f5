import { ActionIcon, Box, Group, Loader, ScrollArea, Text, TextInput, UnstyledButton } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { formatNumber } from "../i18n";
import { display } from "../lib/event";
import type { TimeRange } from "../lib/timerange";

interface Props {
  query: string;
  range: TimeRange;
  columns: string[];
  onFilter: (field: string, value: unknown, exclude: boolean) => void;
  onToggleColumn: (field: string) => void;
}

function TopValues({ field, query, range, onFilter }: { field: string } & Pick<Props, "query" | "range" | "onFilter">) {
  const { t } = useTranslation();
  const top = useQuery({
    queryKey: ["top", field, query, range.start, range.end],
    queryFn: async () => unwrap(await api.GET("/api/v1/search/top", { params: { query: { field, q: query, start: range.start, end: range.end, size: 8 } } })),
  });
  if (top.isLoading) return <Loader size="xs" m="xs" />;
  if (!top.data?.values.length) return <Text fz="xs" c="dimmed" px="sm">{t("explorer.noValues")}</Text>;
  return (
    <Box px="xs" pb="xs" data-testid={`top-${field}`}>
      {top.data.values.map((v) => (
        <Group key={display(v.value)} gap={4} wrap="nowrap" justify="space-between">
          <Text fz="xs" ff="monospace" truncate style={{ flex: 1 }} title={display(v.value)}>{display(v.value)}</Text>
          <Text fz="xs" c="dimmed">{formatNumber(v.count)}</Text>
          <ActionIcon size="xs" variant="subtle" aria-label={t("explorer.filterIn", { field, value: display(v.value) })} onClick={() => onFilter(field, v.value, false)}>+</ActionIcon>
          <ActionIcon size="xs" variant="subtle" color="red" aria-label={t("explorer.filterOut", { field, value: display(v.value) })} onClick={() => onFilter(field, v.value, true)}>−</ActionIcon>
        </Group>
      ))}
      <Text fz="10px" c="dimmed">{t("explorer.sampled", { count: top.data.sample_size })}</Text>
    </Box>
  );
}

/** The fields of recent events; a click shows a field's top values with filter-in/out buttons. */
export function FieldSidebar({ query, range, columns, onFilter, onToggleColumn }: Props) {
  const { t } = useTranslation();
  const [open, setOpen] = useState<string | null>(null);
  const [filter, setFilter] = useState("");
  const fields = useQuery({
    queryKey: ["fields", range.start, range.end],
    queryFn: async () => unwrap(await api.GET("/api/v1/search/fields", { params: { query: { start: range.start, end: range.end } } })),
    staleTime: 60_000,
  });
  const shown = (fields.data?.fields ?? []).filter((f) => f.type !== "object" && f.name.includes(filter));
  return (
    <Box component="aside" aria-label={t("explorer.fields")} w={250} style={{ flexShrink: 0 }}>
      <TextInput size="xs" placeholder={t("explorer.findField")} aria-label={t("explorer.findField")} value={filter} onChange={(e) => setFilter(e.currentTarget.value)} mb="xs" />
      <ScrollArea h="calc(100vh - 330px)">
        {shown.map((f) => (
          <Box key={f.name}>
            <Group gap={2} wrap="nowrap">
              <UnstyledButton style={{ flex: 1, minWidth: 0 }} px={4} py={2} onClick={() => setOpen(open === f.name ? null : f.name)} aria-expanded={open === f.name}>
                <Text fz="sm" ff="monospace" truncate>{f.name}</Text>
              </UnstyledButton>
              <ActionIcon size="xs" variant={columns.includes(f.name) ? "filled" : "subtle"} aria-label={t("explorer.toggleColumn", { field: f.name })} aria-pressed={columns.includes(f.name)} onClick={() => onToggleColumn(f.name)}>▦</ActionIcon>
            </Group>
            {open === f.name && <TopValues field={f.name} query={query} range={range} onFilter={onFilter} />}
          </Box>
        ))}
      </ScrollArea>
    </Box>
  );
}
