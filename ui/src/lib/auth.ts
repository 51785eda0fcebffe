// Roles and the CSRF cookie, without React: what a role may do, and a cookie's value by name.

export type Role = "viewer" | "editor" | "admin";

const RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

/** Whether `role` may do what `needed` may: each role includes the ones below it. */
export function allows(role: Role | null | undefined, needed: Role): boolean {
  return role ? (RANK[role] ?? 0) >= RANK[needed] : false;
}

/** The value of cookie `name` in a `document.cookie` string, or null. */
export function cookieValue(cookies: string, name: string): string | null {
  for (const part of cookies.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}
