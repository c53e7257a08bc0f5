import { Stack, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";

export default function Alerts() {
  const { t } = useTranslation();
  return (
    <Stack>
      <Title order={2} size="h3">{t("nav.alerts")}</Title>
      <Text c="dimmed">{t("alerts.notYet")}</Text>
    </Stack>
  );
}
