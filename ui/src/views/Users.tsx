// Users and API tokens, for admins: who may sign in with which role, service accounts for
// scripts, and tokens (shown once when made; kokanee keeps only their hash).
import { useState, type FormEvent } from "react";
import { ApiError, postJson, sendJson, useApi } from "../api/client";
import { useMe } from "../app/auth";
import { ErrorBox, Guard } from "../components/States";
import { fmtTime } from "../lib/format";

interface UserRow {
  id: string;
  role: string;
  kind: "local" | "service";
  disabled: boolean;
  created_at_unix_ms: number;
  has_password: boolean;
}

interface TokenRow {
  id: string;
  user: string;
  name: string;
  role: string | null;
  created_at_unix_ms: number;
  expires_at_unix_ms: number | null;
  revoked: boolean;
}

const ROLES = ["viewer", "editor", "admin"];

export function Users() {
  const me = useMe();
  const users = useApi<{ users: UserRow[] }>("users", {}, { windowed: false });
  const tokens = useApi<{ tokens: TokenRow[] }>("tokens", {}, { windowed: false });
  const [error, setError] = useState<ApiError | null>(null);
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      await Promise.all([users.refetch(), tokens.refetch()]);
    } catch (e) {
      setError(e as ApiError);
    }
  };
  const userPath = (id: string) => `users/${encodeURIComponent(id)}`;
  return (
    <div>
      <div className="page-head"><h1>Users and tokens</h1></div>
      <ErrorBox error={error} />
      <NewUser onMade={() => void act(async () => {})} onError={setError} />
      <Guard query={users} what="users" hint={false}>
        {(d) => (
          <div className="panel">
            <table className="table" data-testid="users">
              <thead><tr><th>User</th><th>Role</th><th>Kind</th><th>Created</th><th /></tr></thead>
              <tbody>
                {d.users.map((u) => (
                  <tr key={u.id} className={u.disabled ? "muted" : ""}>
                    <td>{u.id}{u.id === me?.user && <span className="muted"> (you)</span>}</td>
                    <td>
                      <select aria-label={`Role of ${u.id}`} value={u.role} onChange={(e) => void act(() => sendJson("PATCH", userPath(u.id), { role: e.target.value }))}>
                        {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                      </select>
                    </td>
                    <td>{u.kind === "service" ? "service account" : "user"}{u.disabled && " · disabled"}</td>
                    <td>{fmtTime(u.created_at_unix_ms * 1e6)}</td>
                    <td className="nowrap">
                      <button className="ghost" onClick={() => void act(() => sendJson("PATCH", userPath(u.id), { disabled: !u.disabled }))}>{u.disabled ? "Enable" : "Disable"}</button>
                      {u.kind === "local" && <button className="ghost" onClick={() => {
                        const password = window.prompt(`New password for ${u.id} (at least 8 characters)`);
                        if (password) void act(() => sendJson("PATCH", userPath(u.id), { password }));
                      }}>Set password</button>}
                      <button className="ghost" onClick={() => window.confirm(`Delete ${u.id} and revoke their tokens?`) && void act(() => sendJson("DELETE", userPath(u.id)))}>Delete</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Guard>
      <h2>API tokens</h2>
      <NewToken users={users.data?.users ?? []} onMade={() => void tokens.refetch()} onError={setError} />
      <Guard query={tokens} what="tokens" isEmpty={(d) => d.tokens.length === 0} empty={<>No API tokens yet.</>} hint={false}>
        {(d) => (
          <div className="panel">
            <table className="table" data-testid="tokens">
              <thead><tr><th>Name</th><th>User</th><th>Role</th><th>Created</th><th>Expires</th><th /></tr></thead>
              <tbody>
                {d.tokens.map((t) => (
                  <tr key={t.id} className={t.revoked ? "muted" : ""}>
                    <td>{t.name}</td>
                    <td>{t.user}</td>
                    <td>{t.role ?? "the user's"}</td>
                    <td>{fmtTime(t.created_at_unix_ms * 1e6)}</td>
                    <td>{t.expires_at_unix_ms ? fmtTime(t.expires_at_unix_ms * 1e6) : "never"}</td>
                    <td>{t.revoked ? "revoked" : <button className="ghost" onClick={() => void act(() => sendJson("DELETE", `tokens/${t.id}`))}>Revoke</button>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Guard>
    </div>
  );
}

function NewUser({ onMade, onError }: { onMade: () => void; onError: (e: ApiError) => void }) {
  const [id, setId] = useState("");
  const [role, setRole] = useState("viewer");
  const [password, setPassword] = useState("");
  const [service, setService] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await postJson("users", { id, role, service_account: service, password: service ? null : password });
      setId("");
      setPassword("");
      onMade();
    } catch (err) {
      onError(err as ApiError);
    }
  };
  return (
    <form className="filters" onSubmit={(e) => void submit(e)} data-testid="new-user">
      <label className="field"><span>User</span><input value={id} onChange={(e) => setId(e.target.value)} /></label>
      <label className="field"><span>Role</span>
        <select value={role} onChange={(e) => setRole(e.target.value)}>{ROLES.map((r) => <option key={r} value={r}>{r}</option>)}</select>
      </label>
      {!service && <label className="field"><span>Password</span><input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} /></label>}
      <label className="field"><span>Service account</span><input type="checkbox" checked={service} onChange={(e) => setService(e.target.checked)} /></label>
      <button type="submit" className="primary" disabled={!id}>Add user</button>
    </form>
  );
}

function NewToken({ users, onMade, onError }: { users: UserRow[]; onMade: () => void; onError: (e: ApiError) => void }) {
  const [user, setUser] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState("");
  const [days, setDays] = useState("");
  const [made, setMade] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const body = { user: user || users[0]?.id, name, role: role || null, expires_in_days: days ? Number(days) : null };
      const r = await postJson<{ token: string }>("tokens", body);
      setMade(r.token);
      setName("");
      onMade();
    } catch (err) {
      onError(err as ApiError);
    }
  };
  return (
    <>
      <form className="filters" onSubmit={(e) => void submit(e)} data-testid="new-token">
        <label className="field"><span>For</span>
          <select value={user} onChange={(e) => setUser(e.target.value)}>{users.map((u) => <option key={u.id} value={u.id}>{u.id}</option>)}</select>
        </label>
        <label className="field"><span>Name</span><input value={name} placeholder="what it is for" onChange={(e) => setName(e.target.value)} /></label>
        <label className="field"><span>Role</span>
          <select value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="">the user's</option>
            {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </label>
        <label className="field"><span>Expires in days</span><input value={days} inputMode="numeric" placeholder="never" onChange={(e) => setDays(e.target.value)} /></label>
        <button type="submit" className="primary" disabled={!name}>Create token</button>
      </form>
      {made && (
        <div className="state" data-testid="new-token-value">
          Copy it now: it is not shown again. <code>{made}</code>{" "}
          <button className="ghost" onClick={() => setMade(null)}>Done</button>
        </div>
      )}
    </>
  );
}
