// Loading, error and empty states: errors are shown, and empty views say what to do.
import type { ReactNode } from "react";
import type { ApiError } from "../api/client";

export function Loading({ what = "data" }: { what?: string }) {
  return <div className="state muted">Loading {what}…</div>;
}

export function ErrorBox({ error }: { error: ApiError | Error | null }) {
  if (!error) return null;
  const status = "status" in error && error.status ? ` (${error.status})` : "";
  return (
    <div className="state error" role="alert">
      <strong>The API answered with an error{status}:</strong> {error.message}
    </div>
  );
}

export function Empty({ children, hint = true }: { children?: ReactNode; hint?: boolean }) {
  return (
    <div className="state empty">
      {children ?? <>Nothing in this time range.</>}
      {hint && <div className="hint">
        No data yet? Send OTLP to <code>http://{window.location.hostname}:4318</code> (or gRPC on 4317) — or run{" "}
        <code>kokanee demo</code>.
      </div>}
    </div>
  );
}

/** Renders `children` once data is there; otherwise the right state. */
export function Guard<T>({
  query,
  what,
  isEmpty,
  empty,
  hint = true,
  children,
}: {
  query: { data: T | undefined; error: ApiError | null; isPending: boolean };
  what?: string;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  hint?: boolean;
  children: (data: T) => ReactNode;
}) {
  return (
    <>
      <ErrorBox error={query.error} />
      {query.data === undefined ? (
        query.isPending && !query.error ? <Loading what={what} /> : null
      ) : isEmpty?.(query.data) ? (
        <Empty hint={hint}>{empty}</Empty>
      ) : (
        children(query.data)
      )}
    </>
  );
}
