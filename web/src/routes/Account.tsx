// The user's own account, from the header: who they are and their second factor (TOTP
// enrolment with a QR code when they have none).
import { Badge, Button, Group, Modal, Stack, Text } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useTranslation } from "react-i18next";
import { useMe } from "../hooks/useMe";
import { TotpEnrolForm } from "./Login";

export function AccountButton() {
  const { t } = useTranslation();
  const [opened, { open, close }] = useDisclosure(false);
  const me = useMe();
  return (
    <>
      <Button variant="default" size="xs" onClick={open} data-testid="account">{t("account.title")}</Button>
      <Modal opened={opened} onClose={close} title={t("account.title")} size="md">
        {me.data && (
          <Stack>
            <Text>{me.data.name} · {t(`roles.${me.data.role}`)}</Text>
            <Group gap="xs">
              <Text fw={500}>{t("account.secondFactor")}</Text>
              <Badge color={me.data.totp_enabled ? "green" : "gray"} data-testid="totp-state">
                {me.data.totp_enabled ? t("account.totpOn") : t("account.totpOff")}
              </Badge>
            </Group>
            {me.data.totp_enabled ? <Text fz="sm" c="dimmed">{t("account.totpReset")}</Text> : (
              <>
                <Text fz="sm">{t("account.totpWhy")}</Text>
                <TotpEnrolForm onDone={() => { void me.refetch(); }} />
              </>
            )}
          </Stack>
        )}
      </Modal>
    </>
  );
}
