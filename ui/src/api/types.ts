// Shapes of the kokanee JSON API (/api/v1); see /openapi.json on a running server.

export type HealthStatus = "healthy" | "degraded" | "critical";
export interface Health {
  status: HealthStatus;
  reason: string;
}

export interface Red {
  requests: number;
  errors: number;
  rate_per_s: number;
  error_rate: number;
  mean_ms: number | null;
  p50_ms: number | null;
  p90_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
}

export type NodeType = "service" | "database" | "messaging" | "external" | "user";
export interface TopologyNode {
  name: string;
  type: NodeType;
  red: Red;
  health: Health;
}
export interface TopologyEdge {
  source: string;
  target: string;
  connection_types: string[];
  red: Red;
  health: Health;
}
export interface Topology {
  start_time_unix_nano: number;
  end_time_unix_nano: number;
  nodes: TopologyNode[];
  edges: TopologyEdge[];
}

export interface RedPoint extends Red {
  time_unix_nano: number;
}
export interface Operation extends Red {
  service: string;
  operation: string;
  kind: string;
  health: Health;
}
export interface ServiceDetail {
  name: string;
  type: NodeType;
  red: Red;
  health: Health;
  step_ns: number;
  series: RedPoint[];
  operations: Operation[];
  upstream: TopologyEdge[];
  downstream: TopologyEdge[];
}

/** One service's sparklines: values per step, each step starting at `t` (Unix s). */
export interface SparklineSeries {
  t: number[];
  rate: number[];
  error_rate: number[];
  p95_ms: (number | null)[];
}
export interface SparklinesAnswer {
  step_seconds: number;
  services: Record<string, SparklineSeries>;
}

export interface ServiceSummary {
  name: string;
  spans: number;
  errors: number;
  logs: number;
  metric_points: number;
}

export interface TraceSummary {
  trace_id: string;
  duration_ns: number;
  span_count: number;
  error_count: number;
  root_service: string;
  root_operation: string;
  services: string[];
  start_time: string;
  start_time_unix_nano: number;
}

export type Attributes = Record<string, unknown>;
export interface SpanEvent {
  name: string;
  time_unix_nano?: number;
  timestamp?: string;
  attributes?: Attributes;
}
export interface SpanLink {
  trace_id: string;
  span_id: string;
  attributes?: Attributes;
}
export interface Span {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: string;
  service_name: string;
  start_time_unix_nano: number;
  end_time_unix_nano: number;
  duration_ns: number;
  status_code: string;
  status_message: string;
  attributes: Attributes;
  resource: { attributes: Attributes };
  scope?: { name: string; version: string };
  events: SpanEvent[];
  links: SpanLink[];
}
export interface TraceDetail {
  trace_id: string;
  spans: Span[];
}

export interface CriticalSegment {
  span_id: string;
  service: string;
  name: string;
  start_time_unix_nano: number;
  end_time_unix_nano: number;
  duration_ns: number;
}
export interface CriticalPathAnswer {
  trace_id: string;
  root_span_id: string;
  total_ns: number;
  segments: CriticalSegment[];
  spans: { span_id: string; service: string; name: string; self_time_ns: number }[];
  errors: string[];
}

export interface LogRecord {
  timestamp: string;
  time_unix_nano: number;
  trace_id: string;
  span_id: string;
  severity_text: string;
  severity_number: number;
  service_name: string;
  body: string;
  attributes: Attributes;
  resource: { attributes: Attributes };
}

/** A Drain template of one service's log lines, counted per minute as they are mined. */
export interface LogPattern {
  service: string;
  template_id: string;
  template: string;
  count: number;
  first_seen: number; // Unix s
  new: boolean; // first seen inside the range
  series: (number | null)[]; // lines per step; null: not mined yet
  before: number; // lines in as long a stretch just before the range (before_s)
}
export interface LogPatternsAnswer {
  step_s: number;
  before_s: [number, number]; // Unix s
  patterns: LogPattern[];
}
/** GET /logs: with ?pattern=, the template whose lines these are. */
export interface LogsAnswer {
  logs: LogRecord[];
  pattern?: { template_id: string; template: string };
}

export interface MetricInfo {
  name: string;
  type: string;
  unit: string;
  description: string;
  services: string[];
  points: number;
}
export interface MetricPoint {
  t: number;
  value?: number;
  count?: number;
  rate?: number;
  avg?: number;
  p50?: number;
  p95?: number;
  p99?: number;
}
export interface MetricSeriesAnswer extends MetricInfo {
  step_ns: number;
  series: { service_name: string; attributes: Attributes; points: MetricPoint[] }[];
}

export interface CriticalPathEntry {
  service: string;
  operation: string;
  label: string;
  count: number;
  p50_ns: number;
  p95_ns: number;
  weight: number;
  sampled_traces: number;
  dominant_path: string[];
  paths: { services: string[]; traces: number; share: number }[];
}
export interface CriticalPathsAnswer {
  entries: CriticalPathEntry[];
  errors: string[];
}
export interface ServiceShare {
  service: string;
  traces: number;
  share_mean: number;
  share_p50: number;
  share_p95: number;
  self_time_p50_ns: number;
  self_time_p95_ns: number;
}
export interface EntryBreakdown {
  entry: string;
  service: string | null;
  traces: number;
  services: ServiceShare[];
  errors: string[];
}

export interface EdgeSample {
  trace_id: string;
  span_id: string;
  service: string;
  name: string;
  kind: string;
  start_time_unix_nano: number;
  duration_ms: number;
  status: string;
}

export interface EdgeDetail extends TopologyEdge {
  step_ns: number;
  series: RedPoint[];
  traces: EdgeSample[];
}

// Anomalies and incidents (/api/v1/anomalies, /api/v1/incidents).
export type AnomalySeverity = "info" | "warning" | "critical";
export interface Anomaly {
  time_unix_nano: number;
  end_unix_nano: number;
  series: string;
  service: string;
  operation: string;
  signal: "red" | "edge" | "metric" | "log_template";
  metric: string;
  detector: string;
  expected: number | null;
  actual: number | null;
  score: number | null;
  severity: AnomalySeverity;
  incident_id: string | null;
  detail: string;
}
export interface AnomaliesAnswer {
  judged_until_unix_nano: number | null;
  anomalies: Anomaly[];
}
export interface Incident {
  id: string;
  status: "open" | "resolved";
  severity: "warning" | "critical";
  title: string;
  services: string[];
  opened_unix_nano: number;
  resolved_unix_nano: number | null;
  last_anomaly_unix_nano: number;
  anomaly_count: number;
}
export interface IncidentsAnswer {
  incidents: Incident[];
}
export interface CauseEvidence {
  kind?: string;
  detail?: string;
  [key: string]: unknown;
}
export interface RankedCause {
  service: string;
  operation: string | null;
  score: number;
  evidence: CauseEvidence[];
}
export interface CauseFeedbackCount {
  service: string;
  operation: string;
  useful: number;
  not_useful: number;
}
export interface IncidentDetail extends Incident {
  window: { start_unix_nano: number; end_unix_nano: number };
  timeline: Anomaly[];
  affected_services: { service: string; anomalies: number; max_score: number; first_unix_nano: number }[];
  causes: RankedCause[];
  causes_note?: string;
  feedback: CauseFeedbackCount[];
}

// Alerting (/api/v1/alert-rules, /alerts, /silences, /notifications).
export type AlertSeverity = "info" | "warning" | "critical";

export interface AlertRule {
  id: string;
  name: string;
  kind: "threshold" | "slo_burn" | "absence" | "log_count" | "anomaly" | "incident";
  severity: AlertSeverity;
  for: string;
  channels: string[];
  enabled: boolean;
  source: "api" | "file";
  status: { error: string; series: number; last_eval_ms: number } | null;
  [field: string]: unknown;
}

export interface AlertRulesResponse {
  rules: AlertRule[];
  file: string | null;
  file_error: string | null;
}

export interface Alert {
  rule_id: string;
  fingerprint: string;
  labels: Record<string, string>;
  state: "pending" | "firing" | "resolved";
  severity: AlertSeverity;
  value: number;
  why: string;
  silenced: boolean;
  active_since: string;
  fired_at: string | null;
  resolved_at: string | null;
}

export interface Silence {
  id: string;
  matchers: Record<string, string>;
  starts_at: number;
  ends_at: number;
  comment: string;
  created_by: string;
  active: boolean;
}

export interface NotificationAttempt {
  at_ms: number;
  attempt: number;
  ok: boolean;
  detail: string;
}

export interface AlertNotification {
  id: string;
  channel: string;
  rule_id: string;
  fingerprint: string;
  event: "firing" | "resolved";
  severity: AlertSeverity;
  digest: boolean;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  last_error: string;
  created_ms: number;
  delivered_ms: number | null;
  alert: { labels: Record<string, string>; why: string; rule_name: string };
  attempts_log: NotificationAttempt[];
}

export interface RuleTestResult {
  rule_id: string;
  from: string;
  to: string;
  error: string | null;
  series: { labels: Record<string, string>; points: { at: string; value: number; breaching: boolean }[] }[];
  events: { at: string; event: "firing" | "resolved"; labels: Record<string, string>; severity: AlertSeverity; why: string }[];
  firing_now: Alert[];
}

// Raw capture (/api/v1/capture/...)
export type CaptureSignal = "traces" | "logs" | "metrics";

export interface CaptureSegment {
  key: string;
  signal: CaptureSignal;
  first_seq: number;
  last_seq: number;
  arrival_start: number;
  arrival_end: number;
  event_start: number;
  event_end: number;
  services: string[];
  requests: number;
  items: number;
  bytes: number;
  raw_bytes: number;
  tier: "hot" | "archive";
  location: string;
}

export interface CaptureSegmentsResponse {
  start: number;
  end: number;
  count: number;
  bytes: number;
  items: number;
  segments: CaptureSegment[];
  step_s: number;
  series: { t: number; signal: CaptureSignal; segments: number; items: number; bytes: number }[];
}

export interface CaptureStatus {
  enabled: boolean;
  location?: string;
  sample?: Record<string, number>;
  object_store_ok?: boolean;
  last_upload_error?: string;
  outbox_segments?: number;
  outbox_bytes?: number;
  totals: { signal: CaptureSignal; tier: string; segments: number; items: number; bytes: number; raw_bytes: number }[];
}

export interface CaptureSession {
  id: string;
  name: string;
  start: number;
  end: number | null;
  labels: Record<string, string>;
  recording: boolean;
  segments: number;
  bytes: number;
  items: Record<CaptureSignal, number>;
}

export interface CaptureReplay {
  id: string;
  to: string;
  session: string | null;
  speed: number;
  state: "running" | "done" | "stopped" | "failed";
  error: string;
  total_requests: number;
  done_requests: number;
  sent_requests: number;
  sent_items: Record<CaptureSignal, number>;
  retries: number;
  offset_ns: number;
}

export interface RetentionAction {
  action: "delete" | "archive";
  key: string;
  signal: CaptureSignal;
  tier: string;
  bytes: number;
  reason: string;
}

export interface RetentionRun {
  at: number;
  dry_run: boolean;
  deleted: number;
  archived: number;
  freed_bytes: number;
  actions: RetentionAction[];
  errors: string[];
  ttl: string[];
}

export interface RetentionState {
  archive: string | null;
  interval_minutes: number;
  policies: {
    signal: string;
    tier: string;
    archive_after_days: number | null;
    delete_after_days: number | null;
    max_total_mib: number | null;
    age_from: string;
  }[];
  last_run: RetentionRun | null;
}

/** GET /explain/{services|traces|incidents}/…: the evidence gathered and the narrative written from it. */
export interface EvidenceItem {
  id: string;
  kind: string;
  title: string;
  facts: Record<string, unknown>;
  quotes: Record<string, unknown>;
}

export interface NarrativeClaim {
  sentence: string;
  cites: string[];
  supported: boolean;
  problems: string[];
}

export interface Explanation {
  subject_kind: string;
  subject: string;
  evidence: EvidenceItem[];
  notes: string[];
  narrative: {
    source: "model" | "template";
    model: string | null;
    text: string;
    claims: NarrativeClaim[];
    removed: NarrativeClaim[];
  };
}
