import { Badge, Button, Card, Group, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../api/client";
import { ShownOnce } from "../components/ShownOnce";
import { useMe } from "../hooks/useMe";
import { formatTime } from "../i18n";

const ROLES = ["viewer", "analyst", "admin"] as const;
type Role = (typeof ROLES)[number];

function failed(e: unknown) {
  notifications.show({ color: "red", message: (e as Error).message });
}

function UsersCard() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const me = useMe();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("analyst");
  const [password, setPassword] = useState("");
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const users = useQuery({ queryKey: ["users"], queryFn: async () => unwrap(await api.GET("/api/v1/users")) });
  const refresh = () => void client.invalidateQueries({ queryKey: ["users"] });
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/users", { body: { name: name.trim(), role, password: password || null } })),
    onSuccess: (user) => {
      if (user.password) setSecret({ label: t("users.passwordFor", { name: user.name }), value: user.password });
      setName("");
      setPassword("");
      refresh();
      notifications.show({ message: t("users.created", { name: user.name }) });
    },
    onError: failed,
  });
  const change = useMutation({
    mutationFn: async (args: { name: string; body: { role?: Role; disabled?: boolean; reset_password?: boolean; reset_totp?: boolean } }) =>
      unwrap(await api.PATCH("/api/v1/users/{name}", { params: { path: { name: args.name } }, body: { reset_password: false, reset_totp: false, ...args.body } })),
    onSuccess: (user) => {
      if (user.password) setSecret({ label: t("users.passwordFor", { name: user.name }), value: user.password });
      refresh();
    },
    onError: failed,
  });

  return (
    <Card withBorder>
      <Title order={3} size="h4" mb="sm">{t("users.title")}</Title>
      <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <Group align="flex-end" mb="md">
          <TextInput label={t("users.name")} value={name} onChange={(e) => setName(e.currentTarget.value)} required name="new-user" />
          <Select label={t("users.role")} data={ROLES.map((r) => ({ value: r, label: t(`roles.${r}`) }))} value={role} onChange={(v) => v && setRole(v as Role)} allowDeselect={false} w={150} />
          <TextInput label={t("users.password")} description={t("users.passwordHelp")} value={password} onChange={(e) => setPassword(e.currentTarget.value)} type="password" autoComplete="new-password" />
          <Button type="submit" loading={create.isPending}>{t("users.create")}</Button>
        </Group>
      </form>
      {secret && <ShownOnce label={secret.label} secret={secret.value} onClose={() => setSecret(null)} />}
      <Table.ScrollContainer minWidth={700}>
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("users.name")}</Table.Th><Table.Th>{t("users.role")}</Table.Th><Table.Th>{t("users.totp")}</Table.Th>
              <Table.Th>{t("users.state")}</Table.Th><Table.Th>{t("users.createdAt")}</Table.Th><Table.Th>{t("common.actions")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(users.data?.data ?? []).map((u) => (
              <Table.Tr key={u.name} data-testid={`user-${u.name}`}>
                <Table.Td>{u.name}</Table.Td>
                <Table.Td>
                  <Select size="xs" w={130} aria-label={t("users.roleOf", { name: u.name })} data={ROLES.map((r) => ({ value: r, label: t(`roles.${r}`) }))}
                    value={u.role} allowDeselect={false} disabled={u.name === me.data?.name}
                    onChange={(v) => v && v !== u.role && change.mutate({ name: u.name, body: { role: v as Role } })} />
                </Table.Td>
                <Table.Td>{u.totp_enabled ? t("common.yes") : t("common.no")}</Table.Td>
                <Table.Td><Badge color={u.disabled ? "gray" : "green"} style={{ minWidth: "fit-content", overflow: "visible" }}>{t(u.disabled ? "users.disabled" : "users.active")}</Badge></Table.Td>
                <Table.Td>{formatTime(u.created_at)}</Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Button size="compact-xs" variant="light" disabled={u.name === me.data?.name} onClick={() => change.mutate({ name: u.name, body: { disabled: !u.disabled } })}>
                      {t(u.disabled ? "users.enable" : "users.disable")}
                    </Button>
                    <Button size="compact-xs" variant="light" onClick={() => change.mutate({ name: u.name, body: { reset_password: true } })}>{t("users.resetPassword")}</Button>
                    {u.totp_enabled && <Button size="compact-xs" variant="light" onClick={() => change.mutate({ name: u.name, body: { reset_totp: true } })}>{t("users.resetTotp")}</Button>}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Card>
  );
}

function KeysCard() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [scope, setScope] = useState<"ingest" | "read">("ingest");
  const [token, setToken] = useState<string | null>(null);
  const keys = useQuery({ queryKey: ["keys"], queryFn: async () => unwrap(await api.GET("/api/v1/keys")) });
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/keys", { body: { name: name.trim(), scope } })),
    onSuccess: (key) => {
      setToken(key.token);
      setName("");
      void client.invalidateQueries({ queryKey: ["keys"] });
    },
    onError: failed,
  });
  const revoke = useMutation({
    mutationFn: async (key: string) => {
      const answer = await api.DELETE("/api/v1/keys/{name}", { params: { path: { name: key } } });
      if (!answer.response.ok) throw new Error(String(answer.response.status));
    },
    onSuccess: () => void client.invalidateQueries({ queryKey: ["keys"] }),
    onError: failed,
  });
  return (
    <Card withBorder>
      <Title order={3} size="h4" mb="sm">{t("keys.title")}</Title>
      <Text fz="sm" c="dimmed" mb="sm">{t("keys.intro")}</Text>
      <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <Group align="flex-end" mb="md">
          <TextInput label={t("keys.name")} value={name} onChange={(e) => setName(e.currentTarget.value)} required name="new-key" />
          <Select label={t("keys.scope")} data={[{ value: "ingest", label: t("keys.ingest") }, { value: "read", label: t("keys.read") }]} value={scope} onChange={(v) => v && setScope(v as "ingest" | "read")} allowDeselect={false} w={160} />
          <Button type="submit" loading={create.isPending}>{t("keys.create")}</Button>
        </Group>
      </form>
      {token && <ShownOnce label={t("keys.token")} secret={token} onClose={() => setToken(null)} />}
      <Table striped>
        <Table.Thead>
          <Table.Tr><Table.Th>{t("keys.name")}</Table.Th><Table.Th>{t("keys.scope")}</Table.Th><Table.Th>{t("users.createdAt")}</Table.Th><Table.Th>{t("keys.lastUsed")}</Table.Th><Table.Th>{t("common.actions")}</Table.Th></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(keys.data?.data ?? []).map((k) => (
            <Table.Tr key={k.name}>
              <Table.Td>{k.name}</Table.Td><Table.Td>{t(`keys.${k.scope}`)}</Table.Td><Table.Td>{formatTime(k.created_at)}</Table.Td>
              <Table.Td>{k.last_used_at ? formatTime(k.last_used_at) : t("keys.never")}</Table.Td>
              <Table.Td><Button size="compact-xs" color="red" variant="light" onClick={() => window.confirm(t("keys.confirmRevoke", { name: k.name })) && revoke.mutate(k.name)}>{t("keys.revoke")}</Button></Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}

export default function Users() {
  const { t } = useTranslation();
  return (
    <Stack>
      <Title order={2} size="h3">{t("nav.users")}</Title>
      <UsersCard />
      <KeysCard />
    </Stack>
  );
}
