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
