import { Button, Group, Popover, SegmentedControl, Stack, Text, TextInput } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { formatTime } from "../i18n";
import { checkRange, fromLocalInput, isRelative, presetParts, PRESETS, resolveTime, type TimeRange, toLocalInput } from "../lib/timerange";

export function rangeLabel(range: TimeRange, t: (key: string, options?: Record<string, unknown>) => string): string {
  const parts = presetParts(range.start);
  if (parts && range.end === "now") return t(`time.last.${parts[1]}`, { count: parts[0] });
  const start = isRelative(range.start) ? range.start : formatTime(resolveTime(range.start));
  const end = range.end === "now" ? t("time.now") : formatTime(resolveTime(range.end));
  return `${start} → ${end}`;
}

/** Relative presets (kept relative in the address) or two absolute instants. */
export function TimePicker({ value, onChange }: { value: TimeRange; onChange: (range: TimeRange) => void }) {
  const { t } = useTranslation();
  const [opened, setOpened] = useState(false);
  const [mode, setMode] = useState<"relative" | "absolute">("relative");
  const [start, setStart] = useState(toLocalInput(value.start));
  const [end, setEnd] = useState(toLocalInput(value.end));
  const absolute = { start: fromLocalInput(start) ?? "", end: fromLocalInput(end) ?? "" };
  const problem = checkRange(absolute);

  return (
    <Popover opened={opened} onChange={setOpened} position="bottom-end" withArrow trapFocus>
      <Popover.Target>
        <Button variant="default" onClick={() => { setStart(toLocalInput(value.start)); setEnd(toLocalInput(value.end)); setOpened((o) => !o); }}
          aria-label={t("time.pick")} data-testid="time-picker">
          {rangeLabel(value, t)}
        </Button>
      </Popover.Target>
      <Popover.Dropdown>
        <Stack w={300}>
          <SegmentedControl value={mode} onChange={(m) => setMode(m as "relative" | "absolute")}
            data={[{ value: "relative", label: t("time.relative") }, { value: "absolute", label: t("time.absolute") }]} />
          {mode === "relative" ? (
            <Group gap="xs">
              {PRESETS.map((p) => (
                <Button key={p} size="xs" variant={value.start === p && value.end === "now" ? "filled" : "light"}
                  onClick={() => { onChange({ start: p, end: "now" }); setOpened(false); }}>
                  {rangeLabel({ start: p, end: "now" }, t)}
                </Button>
              ))}
            </Group>
          ) : (
            <>
              <TextInput type="datetime-local" label={t("time.start")} value={start} onChange={(e) => setStart(e.currentTarget.value)} />
              <TextInput type="datetime-local" label={t("time.end")} value={end} onChange={(e) => setEnd(e.currentTarget.value)} />
              {problem && <Text c="red" fz="sm" role="alert">{t(problem)}</Text>}
              <Button disabled={problem !== null} onClick={() => { onChange(absolute); setOpened(false); }}>{t("time.apply")}</Button>
            </>
          )}
        </Stack>
      </Popover.Dropdown>
    </Popover>
  );
}
