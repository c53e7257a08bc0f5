import { createTheme } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "teal",
  fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
  fontFamilyMonospace: "ui-monospace, 'DejaVu Sans Mono', monospace",
  defaultRadius: "sm",
});

export const LEVEL_COLOURS: Record<string, string> = {
  critical: "red", high: "orange", medium: "yellow", low: "blue", informational: "gray",
};
