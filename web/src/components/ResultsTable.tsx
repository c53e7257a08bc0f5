import { Box, Text } from "@mantine/core";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import { formatTime } from "../i18n";
import { type Doc, display, getField, summary } from "../lib/event";

interface Props {
  rows: Doc[];
  columns: string[];
  onOpen: (doc: Doc) => void;
  onEnd?: () => void;
}

const ROW = 30;

function cell(doc: Doc, column: string): string {
  if (column === "@timestamp") return formatTime(getField(doc, column) as string);
  if (column === "message") return summary(doc);
  return display(getField(doc, column));
}

/** Results with chosen columns; only the rows on screen are in the page (TanStack Virtual),
 * so tens of thousands of events with many fields stay smooth. Enter opens an event. */
export function ResultsTable({ rows, columns, onOpen, onEnd }: Props) {
  const { t } = useTranslation();
  const parent = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => parent.current, estimateSize: () => ROW, overscan: 15 });
  const items = virtual.getVirtualItems();
  const last = items.length ? items[items.length - 1].index : 0;
  useEffect(() => {
    if (onEnd && rows.length && last >= rows.length - 20) onEnd();
  }, [last, rows.length, onEnd]);
  const template = columns.map((c) => (c === "message" ? "minmax(300px, 1fr)" : c === "@timestamp" ? "180px" : "160px")).join(" ");

  return (
    <Box role="table" aria-label={t("explorer.results")} aria-rowcount={rows.length} style={{ border: "1px solid var(--mantine-color-default-border)", borderRadius: 4 }}>
      <Box role="row" style={{ display: "grid", gridTemplateColumns: template, fontWeight: 600, borderBottom: "1px solid var(--mantine-color-default-border)" }} px="xs" py={4}>
        {columns.map((c) => <Text key={c} role="columnheader" fz="sm" ff="monospace" truncate>{c}</Text>)}
      </Box>
      <div ref={parent} style={{ height: "calc(100vh - 420px)", minHeight: 240, overflow: "auto" }} data-testid="results">
        <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {items.map((item) => {
            const doc = rows[item.index];
            return (
              <Box key={item.key} role="row" tabIndex={0} aria-rowindex={item.index + 1}
                onClick={() => onOpen(doc)} onKeyDown={(e) => e.key === "Enter" && onOpen(doc)}
                className="result-row"
                style={{ position: "absolute", top: 0, left: 0, right: 0, height: ROW, transform: `translateY(${item.start}px)`, display: "grid", gridTemplateColumns: template, cursor: "pointer", alignItems: "center", borderBottom: "1px solid var(--mantine-color-default-border)" }}
                px="xs">
                {columns.map((c) => <Text key={c} role="cell" fz="sm" ff={c === "message" ? "monospace" : undefined} truncate>{cell(doc, c)}</Text>)}
              </Box>
            );
          })}
        </div>
      </div>
    </Box>
  );
}
