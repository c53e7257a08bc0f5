import { Alert, Code, CopyButton, Button, Group } from "@mantine/core";
import { useTranslation } from "react-i18next";

/** A secret the API returns once (password, key): shown with a copy button and a warning. */
export function ShownOnce({ label, secret, onClose }: { label: string; secret: string; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <Alert color="yellow" title={label} withCloseButton onClose={onClose} closeButtonLabel={t("common.close")} data-testid="shown-once">
      <Group gap="xs">
        <Code data-testid="secret">{secret}</Code>
        <CopyButton value={secret}>
          {({ copied, copy }) => <Button size="xs" variant="light" onClick={copy}>{t(copied ? "common.copied" : "common.copy")}</Button>}
        </CopyButton>
      </Group>
      {t("common.shownOnce")}
    </Alert>
  );
}
