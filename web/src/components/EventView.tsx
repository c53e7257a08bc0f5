import { Box, Code, Drawer, Loader, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { formatTime } from "../i18n";
import { type Doc, display, eventId, getField, summary } from "../lib/event";

function Tree({ value, name }: { value: unknown; name: string }) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    return (
      <details open style={{ marginLeft: 8 }}>
        <summary style={{ fontFamily: "monospace", fontWeight: 600 }}>{name}</summary>
        {Object.entries(value as Doc).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => <Tree key={k} name={k} value={v} />)}
      </details>
    );
  }
  return (
    <Text ff="monospace" fz="sm" ml={22} style={{ wordBreak: "break-all" }}>
      <Text span c="dimmed" ff="monospace">{name}: </Text>{display(value)}
    </Text>
  );
}

function Line({ doc, current }: { doc: Doc; current?: boolean }) {
  return (
    <Text ff="monospace" fz="xs" fw={current ? 700 : undefined} style={{ wordBreak: "break-all" }}>
      {formatTime(getField(doc, "@timestamp") as string)} {summary(doc)}
    </Text>
  );
}

/** One event: ECS fields as a tree, the original line, the events around it on its host. */
export function EventView({ doc, onClose }: { doc: Doc | null; onClose: () => void }) {
  const { t } = useTranslation();
  const id = doc ? eventId(doc) : null;
  const around = useQuery({
    queryKey: ["surrounding", id],
    queryFn: async () => unwrap(await api.GET("/api/v1/events/{event_id}/surrounding", { params: { path: { event_id: id! }, query: { size: 5 } } })),
    enabled: id !== null,
  });
  const original = doc ? getField(doc, "event.original") : undefined;
  return (
    <Drawer opened={doc !== null} onClose={onClose} position="right" size="xl" title={t("event.title")} closeButtonProps={{ "aria-label": t("common.close") }}>
      {doc && (
        <Stack data-testid="event-view">
          <Title order={3} size="h5">{t("event.original")}</Title>
          <Code block>{original === undefined ? t("event.noOriginal") : display(original)}</Code>
          <Title order={3} size="h5">{t("event.surrounding", { host: display(getField(doc, "host.name")) || "?" })}</Title>
          {around.isLoading && <Loader size="xs" />}
          {around.data && (
            <Box>
              {around.data.before.map((d, i) => <Line key={`b${i}`} doc={d} />)}
              <Line doc={around.data.event} current />
              {around.data.after.map((d, i) => <Line key={`a${i}`} doc={d} />)}
            </Box>
          )}
          <Title order={3} size="h5">{t("event.fields")}</Title>
          <Box>{Object.entries(doc).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => <Tree key={k} name={k} value={v} />)}</Box>
        </Stack>
      )}
    </Drawer>
  );
}
