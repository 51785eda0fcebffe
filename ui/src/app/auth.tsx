// Who is signed in: /auth/me once at start, the sign-in page while nobody is, and what the role
// may do. Buttons for editors and admins are left out for the roles below them; the API refuses
// such calls (403) whatever the page shows.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { ApiError, getJson, postJson, setUnauthorizedHandler } from "../api/client";
import { allows, type Role } from "../lib/auth";
import { href, Link } from "./router";
import "./auth.css";

export interface Me {
  user: string;
  role: Role;
  via: string; // session, token, api-token, or open (auth off)
  auth: boolean;
}

const ME_KEY = ["auth/me"];
const MeContext = createContext<Me | null>(null);

export function useMe(): Me | null {
  return useContext(MeContext);
}

/** Whether the signed-in user may do what `role` may. */
export function useCan(role: Role): boolean {
  return allows(useMe()?.role, role);
}

/** Its children for users with `role` (or above); nothing for the others. */
export function Can({ role, children }: { role: Role; children: ReactNode }) {
  return useCan(role) ? <>{children}</> : null;
}

/** The app for a signed-in user (or anyone, with auth off); the sign-in page otherwise. */
export function AuthGate({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const me = useQuery<Me, ApiError>({ queryKey: ME_KEY, queryFn: () => getJson<Me>("auth/me"), retry: false, staleTime: Infinity });
  useEffect(() => {
    // Any call refused with 401 while signed in (the session ended, or was revoked) asks again who
    // we are; on the sign-in page a refused password must not reset the form.
    setUnauthorizedHandler(() => {
      if (client.getQueryData(ME_KEY)) void client.invalidateQueries({ queryKey: ME_KEY });
    });
  }, [client]);
  if (me.isPending) return <div className="state">Loading…</div>;
  if (me.error?.status === 401) return <SignIn />;
  if (me.error) return <div className="state error" role="alert">{me.error.message}</div>;
  return <MeContext.Provider value={me.data}>{children}</MeContext.Provider>;
}

function SignIn() {
  const client = useQueryClient();
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await postJson<Me>("auth/login", { user, password });
      await client.resetQueries(); // who we are, and what was refused before, fetched again
    } catch (err) {
      setError((err as ApiError).message);
      setBusy(false);
    }
  };
  return (
    <div className="signin">
      <form className="signin-box panel" onSubmit={(e) => void submit(e)} data-testid="signin">
        <div className="brand"><span className="logo">◆</span> kokanee</div>
        <label className="field">
          <span>User</span>
          <input name="user" autoComplete="username" autoFocus value={user} onChange={(e) => setUser(e.target.value)} />
        </label>
        <label className="field">
          <span>Password</span>
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <div className="state error" role="alert">{error}</div>}
        <button type="submit" className="primary" disabled={busy || !user || !password}>{busy ? "Signing in…" : "Sign in"}</button>
        <p className="muted small">Scripts use an API token instead: <code>Authorization: Bearer kok_…</code></p>
      </form>
    </div>
  );
}

/** The signed-in user and role, and Sign out (nothing with auth off). */
export function UserMenu() {
  const me = useMe();
  const client = useQueryClient();
  if (!me || !me.auth) return null;
  const signOut = async () => {
    try {
      await postJson("auth/logout", {});
    } finally {
      await client.resetQueries(); // nothing of the session stays on the page
    }
  };
  return (
    <div className="user-menu" data-testid="user-menu">
      <span className="user-name" title={`signed in via ${me.via}`}>{me.user}</span>{" "}
      <span className="badge" data-testid="user-role">{me.role}</span>
      {me.via === "session" && (
        <button type="button" className="ghost" onClick={() => void signOut()}>Sign out</button>
      )}
      {allows(me.role, "admin") && <Link to={href("/users")} className="user-admin">Users and tokens</Link>}
    </div>
  );
}
