// The frame: navigation, the shared time range and refresh, and the view the path selects.
import { useIsFetching } from "@tanstack/react-query";
import { lazy, Suspense, type ReactNode } from "react";
import { ErrorBoundary } from "../components/ErrorBoundary";
import { AuthGate, UserMenu } from "./auth";
import { href, Link, useLocation } from "./router";
import { CUSTOM, RANGES, REFRESHES, setBound, setRange, setRefresh, toLocalInput, useTimeRange } from "./timeRange";

// One chunk per page, loaded when the page is first opened: the first paint needs only the shell,
// the page it lands on and what that page imports (ECharts for the map).
const AiInteractions = lazy(() => import("../views/AiInteractions").then((m) => ({ default: m.AiInteractions })));
const AiSettings = lazy(() => import("../views/AiSettings").then((m) => ({ default: m.AiSettings })));
const Ask = lazy(() => import("../views/Ask").then((m) => ({ default: m.Ask })));
const Dashboards = lazy(() => import("../views/Dashboards").then((m) => ({ default: m.Dashboards })));
const Review = lazy(() => import("../views/Review").then((m) => ({ default: m.Review })));
const Alerts = lazy(() => import("../views/Alerts").then((m) => ({ default: m.Alerts })));
const Captures = lazy(() => import("../views/Captures").then((m) => ({ default: m.Captures })));
const CriticalPaths = lazy(() => import("../views/CriticalPaths").then((m) => ({ default: m.CriticalPaths })));
const Incidents = lazy(() => import("../views/Incidents").then((m) => ({ default: m.Incidents })));
const Logs = lazy(() => import("../views/Logs").then((m) => ({ default: m.Logs })));
const Metrics = lazy(() => import("../views/Metrics").then((m) => ({ default: m.Metrics })));
const ServiceMap = lazy(() => import("../views/ServiceMap").then((m) => ({ default: m.ServiceMap })));
const ServicePage = lazy(() => import("../views/ServicePage").then((m) => ({ default: m.ServicePage })));
const Services = lazy(() => import("../views/Services").then((m) => ({ default: m.Services })));
const TraceView = lazy(() => import("../views/TraceView").then((m) => ({ default: m.TraceView })));
const Traces = lazy(() => import("../views/Traces").then((m) => ({ default: m.Traces })));
const Users = lazy(() => import("../views/Users").then((m) => ({ default: m.Users })));

const NAV = [
  { path: "/", label: "Service map" },
  { path: "/services", label: "Services" },
  { path: "/traces", label: "Traces" },
  { path: "/critical-paths", label: "Critical paths" },
  { path: "/logs", label: "Logs" },
  { path: "/metric-explorer", label: "Metrics" },
  { path: "/incidents", label: "Incidents" },
  { path: "/alerts", label: "Alerts" },
  { path: "/captures", label: "Captures" },
  { path: "/ask", label: "Ask" },
  { path: "/dashboards", label: "Dashboards" },
  { path: "/review", label: "Review" },
  { path: "/ai", label: "AI interactions" },
];

function route(path: string): ReactNode {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const [section, id] = parts;
  switch (section) {
    case undefined:
      return <ServiceMap />;
    case "services":
      return id ? <ServicePage name={id} /> : <Services />;
    case "traces":
      return id ? <TraceView traceId={id} /> : <Traces />;
    case "critical-paths":
      return <CriticalPaths />;
    case "logs":
      return <Logs />;
    case "alerts":
      return <Alerts />;
    case "captures":
      return <Captures />;
    case "incidents":
      return <Incidents id={id} />;
    case "ask":
      return <Ask />;
    case "dashboards":
      return <Dashboards />;
    case "review":
      return <Review />;
    case "ai":
      return id === "settings" ? <AiSettings /> : <AiInteractions />;
    case "users":
      return <Users />;
    case "metric-explorer":  // not /metrics: that is the server's Prometheus endpoint
      return <Metrics />;
    default:
      return <div className="state error">No page at {path}.</div>;
  }
}

function active(navPath: string, path: string): boolean {
  return navPath === "/" ? path === "/" : path === navPath || path.startsWith(navPath + "/");
}

function TimeControls() {
  const time = useTimeRange();
  const fetching = useIsFetching();
  const { path, params } = useLocation();
  if (path === "/logs" && params.get("live") === "1") {
    return <div className="time-controls muted">Live tail: the newest log records as they arrive</div>;
  }
  return (
    <div className="time-controls">
      <span className={`spinner ${fetching ? "on" : ""}`} title={fetching ? "Loading" : "Up to date"} />
      <label>
        Last
        <select aria-label="Time range" value={time.range} onChange={(e) => setRange(e.target.value)}>
          {RANGES.map((r) => (
            <option key={r} value={r}>{r}</option>
          ))}
          <option value={CUSTOM}>from … to …</option>
        </select>
      </label>
      {time.end ? (
        <>
          <input type="datetime-local" aria-label="From" value={toLocalInput(time.start)} onChange={(e) => setBound("start", e.target.value)} />
          <input type="datetime-local" aria-label="To" value={toLocalInput(time.end)} onChange={(e) => setBound("end", e.target.value)} />
        </>
      ) : null}
      <label>
        Refresh
        <select aria-label="Auto-refresh" value={time.refresh} onChange={(e) => setRefresh(e.target.value)}>
          {REFRESHES.map((r) => (
            <option key={r} value={r}>{r}</option>
          ))}
        </select>
      </label>
    </div>
  );
}

export function App() {
  const { path } = useLocation();
  return (
    <AuthGate>
    <div className="layout">
      <nav className="sidebar">
        <Link to={href("/")} className="brand">
          <span className="logo">◆</span> kokanee
        </Link>
        {NAV.map((n) => (
          <Link key={n.path} to={href(n.path)} className={active(n.path, path) ? "nav active" : "nav"}>
            {n.label}
          </Link>
        ))}
        <div className="sidebar-foot">
          <UserMenu />
          <a href="/docs">API docs</a>
        </div>
      </nav>
      <div className="main">
        <header className="topbar">
          <TimeControls />
        </header>
        <main className="content">
          <ErrorBoundary resetKey={path}>
            <Suspense fallback={<div className="state">Loading…</div>}>{route(path)}</Suspense>
          </ErrorBoundary>
        </main>
      </div>
    </div>
    </AuthGate>
  );
}
