import { ActionIcon, AppShell, Burger, Button, Group, Modal, NavLink, Select, Text, Title, Tooltip, useMantineColorScheme } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useQueryClient } from "@tanstack/react-query";
import { type ReactElement, Suspense, useEffect, useState, useSyncExternalStore } from "react";
import { useTranslation } from "react-i18next";
import { Link, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { api } from "./api/client";
import { currentTokens, onSessionChange, storeTokens } from "./api/session";
import { lazyPage, preloadPage } from "./components/LazyPage";
import { allows, type Role, useMe } from "./hooks/useMe";
import { LANGUAGES, type Language, setLanguage } from "./i18n";
import { AccountButton } from "./routes/Account";
import { LoginForm, TotpEnrolment } from "./routes/Login";

// Each page's chunk; the one of the address being opened is fetched at once (below), beside the
// session check, not after it: no request waterfall before the page asks for its data.
const CHUNKS = {
  "/dashboard": () => import("./routes/Dashboard"),
  "/explorer": () => import("./routes/Explorer"),
  "/alerts": () => import("./routes/Alerts"),
  "/rules": () => import("./routes/Rules"),
  "/coverage": () => import("./routes/Coverage"),
  "/users": () => import("./routes/Users"),
  "/sources": () => import("./routes/Sources"),
  "/settings": () => import("./routes/Settings"),
};
const opening = Object.entries(CHUNKS).find(([path]) => window.location.pathname.startsWith(path));
if (opening && sessionStorage.getItem("guetteur.session")) void preloadPage(opening[1]);
const Dashboard = lazyPage(CHUNKS["/dashboard"]);
const Explorer = lazyPage(CHUNKS["/explorer"]);
const Alerts = lazyPage(CHUNKS["/alerts"]);
const Rules = lazyPage(CHUNKS["/rules"]);
const Coverage = lazyPage(CHUNKS["/coverage"]);
const Users = lazyPage(CHUNKS["/users"]);
const Sources = lazyPage(CHUNKS["/sources"]);
const Settings = lazyPage(CHUNKS["/settings"]);

interface Page {
  path: string;
  label: string;
  role: Role;
  element: ReactElement;
}

const PAGES: Page[] = [
  { path: "/dashboard", label: "nav.dashboard", role: "viewer", element: <Dashboard /> },
  { path: "/explorer", label: "nav.explorer", role: "viewer", element: <Explorer /> },
  { path: "/alerts", label: "nav.alerts", role: "viewer", element: <Alerts /> },
  { path: "/rules", label: "nav.rules", role: "viewer", element: <Rules /> },
  { path: "/coverage", label: "nav.coverage", role: "viewer", element: <Coverage /> },
  { path: "/users", label: "nav.users", role: "admin", element: <Users /> },
  { path: "/sources", label: "nav.sources", role: "admin", element: <Sources /> },
  { path: "/settings", label: "nav.settings", role: "admin", element: <Settings /> },
];

function useSession() {
  return useSyncExternalStore(onSessionChange, () => sessionStorage.getItem("guetteur.session"));
}

export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <Select
      aria-label={t("shell.language")}
      data={LANGUAGES.map((l) => ({ value: l, label: t(`shell.languages.${l}`) }))}
      value={i18n.language}
      onChange={(v) => v && setLanguage(v as Language)}
      allowDeselect={false}
      w={120}
      size="xs"
      data-testid="language"
    />
  );
}

function ThemeSwitch() {
  const { t } = useTranslation();
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const dark = colorScheme === "dark";
  return (
    <Tooltip label={t(dark ? "shell.lightTheme" : "shell.darkTheme")}>
      <ActionIcon variant="default" size="lg" aria-label={t(dark ? "shell.lightTheme" : "shell.darkTheme")}
        onClick={() => setColorScheme(dark ? "light" : "dark")}>
        {dark ? "☀" : "☾"}
      </ActionIcon>
    </Tooltip>
  );
}

function Forbidden() {
  const { t } = useTranslation();
  return <Text role="alert" data-testid="forbidden">{t("shell.forbidden")}</Text>;
}

export function App() {
  const session = useSession();
  const [expired, setExpired] = useState(false);
  useEffect(() => onSessionChange(() => {
    if (!currentTokens()) setExpired(true);
  }), []);
  if (!session && !expired) return <LoginPage />;
  return <Shell expired={expired && !session} onRelogged={() => setExpired(false)} />;
}

function LoginPage() {
  const { t } = useTranslation();
  return (
    <main style={{ maxWidth: 380, margin: "10vh auto", padding: 16 }}>
      <Group justify="space-between" mb="lg">
        <Title order={1} size="h2">Guetteur</Title>
        <LanguageSwitch />
      </Group>
      <Text c="dimmed" mb="md">{t("login.intro")}</Text>
      <LoginForm />
    </main>
  );
}

function Shell({ expired, onRelogged }: { expired: boolean; onRelogged: () => void }) {
  const { t } = useTranslation();
  const [opened, { toggle }] = useDisclosure();
  const location = useLocation();
  const me = useMe(!expired);
  const client = useQueryClient();
  const role = me.data?.role;

  if (me.data?.totp_enrolment_required) return <TotpEnrolment onDone={() => void me.refetch()} />;

  async function logout() {
    await api.POST("/api/v1/auth/logout").catch(() => undefined);
    client.clear();
    storeTokens(null);
    onRelogged();
    window.location.assign("/");
  }

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 210, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t("shell.menu")} />
            <Title order={1} size="h3">Guetteur</Title>
          </Group>
          <Group gap="xs" wrap="nowrap">
            {me.data && <Text size="sm" data-testid="whoami">{me.data.name} · {t(`roles.${me.data.role}`)}</Text>}
            <LanguageSwitch />
            <ThemeSwitch />
            <AccountButton />
            <Button variant="default" size="xs" onClick={() => void logout()}>{t("shell.logout")}</Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label={t("shell.navigation")}>
        {PAGES.filter((p) => allows(role, p.role)).map((p) => (
          <NavLink key={p.path} component={Link} to={p.path} label={t(p.label)} active={location.pathname.startsWith(p.path)} onClick={() => opened && toggle()} />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Suspense fallback={<Text>{t("common.loading")}</Text>}>
          {/* Pages every role may see render while the role is still being asked (their own
              requests start at once); the others wait for it. */}
          <Routes>
            <Route path="/" element={<Navigate to="/dashboard" replace />} />
            {PAGES.map((p) => (
              <Route key={p.path} path={`${p.path}/*`} element={allows(role, p.role) || (!role && p.role === "viewer") ? p.element : role ? <Forbidden /> : null} />
            ))}
            <Route path="*" element={<Text>{t("shell.notFound")}</Text>} />
          </Routes>
        </Suspense>
      </AppShell.Main>
      <Modal opened={expired} onClose={() => undefined} withCloseButton={false} title={t("login.expired")} centered>
        <LoginForm onDone={onRelogged} />
      </Modal>
    </AppShell>
  );
}
