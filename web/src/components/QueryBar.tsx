import { Box, Button, Group, Paper, Text, TextInput, UnstyledButton } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { applyCompletion, completionContext, rankSuggestions } from "../lib/kql";
import type { TimeRange } from "../lib/timerange";

interface Props {
  value: string;
  range: TimeRange;
  error: { message: string; position: number | null } | null;
  onSubmit: (query: string) => void;
}

/** The KQL bar: field-name and value autocomplete (from the fields and top-values
 * endpoints), the API's syntax error shown under the query with a caret at its position. */
export function QueryBar({ value, range, error, onSubmit }: Props) {
  const { t } = useTranslation();
  const [text, setText] = useState(value);
  const [cursor, setCursor] = useState(value.length);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => setText(value), [value]);

  const ctx = completionContext(text, cursor);
  const fields = useQuery({
    queryKey: ["fields", range.start, range.end],
    queryFn: async () => unwrap(await api.GET("/api/v1/search/fields", { params: { query: { start: range.start, end: range.end } } })),
    staleTime: 60_000,
  });
  const valueField = ctx?.kind === "value" ? ctx.field : null;
  const values = useQuery({
    queryKey: ["top", valueField, range.start, range.end],
    queryFn: async () => unwrap(await api.GET("/api/v1/search/top", { params: { query: { field: valueField!, start: range.start, end: range.end, size: 20 } } })),
    enabled: open && valueField !== null,
    staleTime: 30_000,
  });
  const candidates = ctx?.kind === "field"
    ? (fields.data?.fields ?? []).map((f) => f.name)
    : (values.data?.values ?? []).map((v) => String(v.value));
  const suggestions = ctx ? rankSuggestions(candidates, ctx.prefix) : [];
  const showList = open && suggestions.length > 0;

  function pick(suggestion: string) {
    if (!ctx) return;
    const next = applyCompletion(text, ctx, suggestion);
    setText(next.query);
    setCursor(next.cursor);
    setActive(0);
    requestAnimationFrame(() => input.current?.setSelectionRange(next.cursor, next.cursor));
  }

  function onKeyDown(event: React.KeyboardEvent<HTMLInputElement>) {
    if (showList && event.key === "ArrowDown") {
      event.preventDefault();
      setActive((a) => (a + 1) % suggestions.length);
    } else if (showList && event.key === "ArrowUp") {
      event.preventDefault();
      setActive((a) => (a - 1 + suggestions.length) % suggestions.length);
    } else if (showList && event.key === "Tab") {
      event.preventDefault();
      pick(suggestions[active]);
    } else if (event.key === "Escape") {
      setOpen(false);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (showList && event.ctrlKey === false && active > 0) pick(suggestions[active]);
      else {
        setOpen(false);
        onSubmit(text);
      }
    }
  }

  const where = error?.position ?? null;
  return (
    <Box pos="relative" style={{ flex: 1 }}>
      <Group gap="xs" wrap="nowrap">
        <TextInput
          ref={input}
          style={{ flex: 1 }}
          aria-label={t("explorer.query")}
          placeholder={t("explorer.queryPlaceholder")}
          value={text}
          error={error ? true : undefined}
          onChange={(e) => {
            setText(e.currentTarget.value);
            setCursor(e.currentTarget.selectionStart ?? e.currentTarget.value.length);
            setOpen(true);
            setActive(0);
          }}
          onKeyUp={(e) => setCursor(e.currentTarget.selectionStart ?? 0)}
          onClick={(e) => setCursor(e.currentTarget.selectionStart ?? 0)}
          onFocus={() => setOpen(true)}
          onBlur={() => setTimeout(() => setOpen(false), 150)}
          onKeyDown={onKeyDown}
          ff="monospace"
          role="combobox"
          aria-expanded={showList}
          aria-controls="kql-suggestions"
          aria-autocomplete="list"
          data-testid="kql"
        />
        <Button onClick={() => onSubmit(text)}>{t("explorer.search")}</Button>
      </Group>
      {showList && (
        <Paper id="kql-suggestions" role="listbox" shadow="md" withBorder pos="absolute" style={{ zIndex: 20, top: 40, left: 0, minWidth: 280, maxHeight: 300, overflowY: "auto" }}>
          {suggestions.map((s, i) => (
            <UnstyledButton key={s} role="option" aria-selected={i === active} display="block" w="100%" px="sm" py={4}
              bg={i === active ? "var(--mantine-color-default-hover)" : undefined}
              onMouseDown={(e) => { e.preventDefault(); pick(s); }} ff="monospace" fz="sm">
              {s}
            </UnstyledButton>
          ))}
        </Paper>
      )}
      {error && (
        <Box mt={4} role="alert" data-testid="kql-error">
          {where !== null && (
            <Text ff="monospace" fz="sm" style={{ whiteSpace: "pre" }} aria-hidden>
              {text}
              {"\n"}
              {" ".repeat(Math.min(where, text.length))}
              <Text span c="red" fw={700}>^</Text>
            </Text>
          )}
          <Text c="red" fz="sm">
            {where !== null ? t("explorer.errorAt", { position: where + 1, message: error.message }) : error.message}
          </Text>
        </Box>
      )}
    </Box>
  );
}
