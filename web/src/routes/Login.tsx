import { Alert, Button, Code, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../api/client";
import { storeTokens, type Tokens } from "../api/session";

/** User name, password and (for users with a second factor) the 6-digit code. The API
 * answers the same 401 whatever was wrong, so the code field is always there. */
export function LoginForm({ onDone }: { onDone?: () => void }) {
  const { t } = useTranslation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [totp, setTotp] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const answer = await api.POST("/api/v1/auth/login", {
      body: { username, password, totp: totp.trim() || null },
    }).catch(() => null);
    setBusy(false);
    if (!answer || !answer.response.ok || !answer.data) {
      const status = answer?.response.status;
      setError(t(status === 401 ? "login.failed" : status === 429 ? "login.throttled" : "common.unreachable"));
      return;
    }
    storeTokens(answer.data as Tokens);
    onDone?.();
  }

  return (
    <form onSubmit={(e) => void submit(e)} aria-label={t("login.title")}>
      <Stack>
        <TextInput label={t("login.username")} value={username} onChange={(e) => setUsername(e.currentTarget.value)}
          autoComplete="username" required autoFocus name="username" />
        <PasswordInput label={t("login.password")} value={password} onChange={(e) => setPassword(e.currentTarget.value)}
          autoComplete="current-password" required name="password" />
        <TextInput label={t("login.totp")} description={t("login.totpHelp")} value={totp}
          onChange={(e) => setTotp(e.currentTarget.value)} inputMode="numeric" autoComplete="one-time-code"
          maxLength={10} name="totp" />
        {error && <Alert color="red" role="alert">{error}</Alert>}
        <Button type="submit" loading={busy}>{t("login.submit")}</Button>
      </Stack>
    </form>
  );
}

/** Enrolment of a TOTP second factor: a fresh secret as a QR code (drawn by the server as an
 * SVG `data:` image, allowed by the CSP) and as text, then a current code to confirm it. */
export function TotpEnrolForm({ onDone }: { onDone: () => void }) {
  const { t } = useTranslation();
  const [secret, setSecret] = useState<{ secret: string; provisioning_uri: string; qr_code: string } | null>(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);

  async function start() {
    setError(null);
    const answer = await api.POST("/api/v1/auth/totp");
    if (answer.data) setSecret(answer.data);
    else setError(answer.response.status === 409 ? t("totp.already") : t("common.failed"));
  }

  async function confirm(event: React.FormEvent) {
    event.preventDefault();
    const answer = await api.POST("/api/v1/auth/totp/confirm", { body: { code: code.trim() } });
    if (answer.response.ok) onDone();
    else setError(t("totp.wrongCode"));
  }

  return (
    <>
      {!secret ? (
        <Button onClick={() => void start()}>{t("totp.start")}</Button>
      ) : (
        <form onSubmit={(e) => void confirm(e)}>
          <Stack>
            <Text>{t("totp.scan")}</Text>
            <img src={secret.qr_code} alt={t("totp.qr")} width={225} height={225} data-testid="totp-qr"
              style={{ background: "white", alignSelf: "center", imageRendering: "pixelated" }} />
            <Text size="sm">{t("totp.secret")}: <Code data-testid="totp-secret">{secret.secret}</Code></Text>
            <Code block data-testid="totp-uri" fz="xs">{secret.provisioning_uri}</Code>
            <TextInput label={t("totp.code")} value={code} onChange={(e) => setCode(e.currentTarget.value)}
              inputMode="numeric" autoComplete="one-time-code" required name="code" />
            <Button type="submit">{t("totp.confirm")}</Button>
          </Stack>
        </form>
      )}
      {error && <Alert color="red" mt="md" role="alert">{error}</Alert>}
    </>
  );
}

/** An admin without a second factor must enrol one before anything else works. */
export function TotpEnrolment({ onDone }: { onDone: () => void }) {
  const { t } = useTranslation();
  return (
    <main style={{ maxWidth: 520, margin: "8vh auto", padding: 16 }}>
      <Paper p="lg" withBorder>
        <Title order={2} size="h3" mb="sm">{t("totp.title")}</Title>
        <Text mb="md">{t("totp.why")}</Text>
        <TotpEnrolForm onDone={onDone} />
      </Paper>
    </main>
  );
}
