import { Badge } from "@mantine/core";
import { useTranslation } from "react-i18next";

// Shared by the alert list and the dashboard's tiles; kept out of the Alerts page module so
// the dashboard does not load that page (and its editors and drawers) with it.
export const SEVERITIES = ["critical", "medium", "low"] as const;
export const SEVERITY_COLOURS: Record<string, string> = { critical: "red", medium: "orange", low: "blue" };

export function SeverityBadge({ severity }: { severity: string }) {
  const { t } = useTranslation();
  return <Badge color={SEVERITY_COLOURS[severity] ?? "gray"} style={{ flexShrink: 0 }} miw={70}>{t(`alerts.severities.${severity}`, { defaultValue: severity })}</Badge>;
}
