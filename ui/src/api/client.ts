// Fetching from /api/v1 with TanStack Query. Errors keep the API's message ({"error": "..."}).
import { useQuery, type UseQueryResult } from "@tanstack/react-query";
import { useTimeRange } from "../app/timeRange";
import { cookieValue } from "../lib/auth";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly path: string,
  ) {
    super(message);
  }
}

type Params = Record<string, string | number | undefined | null>;

// Sign-in (ui/src/app/auth.tsx) listens for 401s: any call refused for want of a session shows the
// sign-in page. Writes echo the CSRF cookie the server set at sign-in in X-CSRF-Token.
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export function refused401(response: Response): void {
  if (response.status === 401) onUnauthorized();
}

function writeHeaders(): Record<string, string> {
  const csrf = cookieValue(document.cookie, "kokanee_csrf"); // set at sign-in, readable by the page
  return { "Content-Type": "application/json", Accept: "application/json", ...(csrf ? { "X-CSRF-Token": csrf } : {}) };
}

export function apiUrl(path: string, params: Params = {}): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  }
  const base = new URL("/api/v1/", window.location.origin);
  const url = new URL(path.replace(/^\//, ""), base);
  url.search = qs.toString();
  return url.toString();
}

/** The text of a body as JSON, or null where it is empty or not JSON. */
function parseBody(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null; // not JSON: the text is the message
  }
}

/** The error for a refused request: the API's `error` field, else the body's first characters. */
export function refusal(response: Response, text: string, path: string, body: unknown = parseBody(text)): ApiError {
  const message =
    body && typeof body === "object" && "error" in body ? String((body as { error: unknown }).error) : text.slice(0, 300);
  return new ApiError(message || response.statusText, response.status, path);
}

export async function getJson<T>(path: string, params: Params = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(apiUrl(path, params), { headers: { Accept: "application/json" } });
  } catch (e) {
    throw new ApiError(`cannot reach the kokanee API (${(e as Error).message})`, 0, path);
  }
  const text = await response.text();
  const body = parseBody(text);
  refused401(response);
  if (!response.ok) throw refusal(response, text, path, body);
  if (body === null || typeof body !== "object") {
    throw new ApiError(`expected JSON from the API, got: ${text.slice(0, 120)}`, response.status, path);
  }
  return body as T;
}

/** A query over the shared time range; it refetches on the shared auto-refresh period. */
export function useApi<T>(path: string | null, params: Params = {}, opts: { windowed?: boolean } = {}): UseQueryResult<T, ApiError> {
  const time = useTimeRange();
  const windowed = opts.windowed ?? true;
  const all: Params = windowed ? { start: time.start, ...(time.end ? { end: time.end } : {}), ...params } : params;
  return useQuery<T, ApiError>({
    queryKey: [path, all],
    queryFn: () => getJson<T>(path!, all),
    enabled: path !== null,
    refetchInterval: windowed ? time.refreshMs : false,
    placeholderData: (previous) => previous,
  });
}

/** POSTs JSON; errors carry the API's message like getJson's. */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(apiUrl(path), {
    method: "POST",
    headers: writeHeaders(),
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = parseBody(text);
  refused401(response);
  if (!response.ok) throw refusal(response, text, path, parsed);
  return parsed as T;
}

/** PUT, PATCH or DELETE with a JSON answer (alert rules, channels, users); errors like getJson's. */
export async function sendJson<T>(method: "PUT" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<T> {
  const response = await fetch(apiUrl(path), {
    method,
    headers: writeHeaders(),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : null;
  refused401(response);
  if (!response.ok) throw refusal(response, text, path, parsed);
  return parsed as T;
}
