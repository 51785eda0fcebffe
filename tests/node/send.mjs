#!/usr/bin/env node
// Sends a small, fully known trace + 2 log records + a counter and a histogram to an
// OTLP/HTTP receiver using the real OpenTelemetry JS SDK and exporters, then prints one
// JSON line describing exactly what was emitted (ids, names, times, expected values).
//
//   node send.mjs --protocol http-json|http-proto --url http://127.0.0.1:PORT \
//                 --service NAME --run-id ID
//
// Exits non-zero if any export did not succeed.

import { parseArgs } from 'node:util';
import {
  diag,
  DiagConsoleLogger,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  ValueType,
} from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPTraceExporter as TraceJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';

const { values: args } = parseArgs({
  options: {
    protocol: { type: 'string', default: 'http-json' },
    url: { type: 'string' },
    service: { type: 'string' },
    'run-id': { type: 'string' },
  },
});
for (const name of ['url', 'service', 'run-id']) {
  if (!args[name]) {
    console.error(`send.mjs: --${name} is required`);
    process.exit(2);
  }
}
if (!['http-json', 'http-proto'].includes(args.protocol)) {
  console.error(`send.mjs: --protocol must be http-json or http-proto, not ${args.protocol}`);
  process.exit(2);
}

diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

const base = args.url.replace(/\/+$/, '');
const runId = args['run-id'];
const json = args.protocol === 'http-json';
const exporterOptions = (signal) => ({ url: `${base}/v1/${signal}`, timeoutMillis: 10000 });

// Record every export result, so a rejected or failed export makes the script fail.
const failures = [];
function checked(exporter, signal) {
  const original = exporter.export.bind(exporter);
  exporter.export = (items, resultCallback) =>
    original(items, (result) => {
      if (result.code !== 0) {
        failures.push(`${signal}: ${result.error?.stack ?? result.error ?? 'export failed'}`);
      }
      resultCallback(result);
    });
  return exporter;
}

const resource = resourceFromAttributes({
  'service.name': args.service,
  'service.version': '1.2.3',
  'deployment.environment.name': 'test',
  'test.run_id': runId,
});

// Times are explicit HrTime pairs, so durations are known to the nanosecond.
const nowSec = Math.floor(Date.now() / 1000) - 5;
const t = (offsetMs) => [nowSec + Math.floor(offsetMs / 1000), (offsetMs % 1000) * 1e6 + 123];
const ns = (hr) => BigInt(hr[0]) * 1_000_000_000n + BigInt(hr[1]);

// ---- traces ------------------------------------------------------------------------
const traceExporter = checked(
  json ? new TraceJson(exporterOptions('traces')) : new TraceProto(exporterOptions('traces')),
  'traces',
);
const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new SimpleSpanProcessor(traceExporter)],
});
const tracer = tracerProvider.getTracer('kokanee-node-test', '0.1.0');

const rootStart = t(0);
const root = tracer.startSpan(
  'GET /checkout',
  {
    kind: SpanKind.SERVER,
    startTime: rootStart,
    attributes: {
      'test.run_id': runId,
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'test.int': 42,
      'test.double': 3.5,
      'test.bool': true,
      'test.strings': ['a', 'b'],
    },
  },
  ROOT_CONTEXT,
);
root.addEvent('cache.miss', { 'cache.key': 'cart:7', 'cache.attempt': 2, 'cache.cold': true }, t(10));
const rootCtx = trace.setSpan(ROOT_CONTEXT, root);

const childStart = t(20);
const child = tracer.startSpan(
  'POST payments',
  {
    kind: SpanKind.CLIENT,
    startTime: childStart,
    attributes: { 'test.run_id': runId, 'server.address': 'payments.internal' },
    links: [{ context: root.spanContext(), attributes: { 'link.reason': 'retry-of' } }],
  },
  rootCtx,
);
const childCtx = trace.setSpan(rootCtx, child);

const grandStart = t(30);
const grandchild = tracer.startSpan(
  'serialize request',
  { kind: SpanKind.INTERNAL, startTime: grandStart, attributes: { 'test.run_id': runId } },
  childCtx,
);
const grandEnd = t(45);
grandchild.end(grandEnd);

child.setStatus({ code: SpanStatusCode.ERROR, message: 'payment gateway timeout' });
const childEnd = t(220);
child.end(childEnd);

const rootEnd = t(250);
root.end(rootEnd);

// ---- logs --------------------------------------------------------------------------
const logExporter = checked(
  json ? new LogsJson(exporterOptions('logs')) : new LogsProto(exporterOptions('logs')),
  'logs',
);
const loggerProvider = new LoggerProvider({
  resource,
  processors: [new SimpleLogRecordProcessor({ exporter: logExporter })],
});
const logger = loggerProvider.getLogger('kokanee-node-test', '0.1.0');
const logs = [
  {
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: 'checkout started',
    timestamp: t(5),
    attributes: { 'test.run_id': runId, 'cart.items': 3, 'user.vip': false },
  },
  {
    severityNumber: SeverityNumber.ERROR,
    severityText: 'ERROR',
    body: 'payment failed: gateway timeout',
    timestamp: t(221),
    attributes: { 'test.run_id': runId, 'error.type': 'timeout', 'retry.count': 2 },
  },
];
for (const record of logs) logger.emit({ ...record, context: rootCtx });

// ---- metrics -----------------------------------------------------------------------
const metricExporter = checked(
  json ? new MetricsJson(exporterOptions('metrics')) : new MetricsProto(exporterOptions('metrics')),
  'metrics',
);
const meterProvider = new MeterProvider({
  resource,
  readers: [
    new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 600000 }),
  ],
});
const meter = meterProvider.getMeter('kokanee-node-test', '0.1.0');
const counter = meter.createCounter('kokanee_test.requests', {
  description: 'Requests handled',
  unit: '{request}',
  valueType: ValueType.INT,
});
counter.add(5, { 'test.run_id': runId, route: '/checkout' });
counter.add(2, { 'test.run_id': runId, route: '/checkout' });
const bounds = [1, 10, 100];
const histogram = meter.createHistogram('kokanee_test.latency', {
  description: 'Request latency',
  unit: 'ms',
  advice: { explicitBucketBoundaries: bounds },
});
const samples = [0.5, 5, 7, 50, 500];
for (const v of samples) histogram.record(v, { 'test.run_id': runId, route: '/checkout' });

// ---- flush everything --------------------------------------------------------------
try {
  await tracerProvider.forceFlush();
  await loggerProvider.forceFlush();
  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
  await meterProvider.shutdown(); // collects and exports once more, then stops
} catch (err) {
  failures.push(`flush/shutdown: ${err?.stack ?? err}`);
}
if (failures.length) {
  console.error(`send.mjs: export failed:\n${failures.join('\n')}`);
  process.exit(1);
}

const span = (s, kind, start, end) => ({
  name: s.name,
  kind,
  span_id: s.spanContext().spanId,
  parent_span_id: s.parentSpanContext?.spanId ?? '',
  start_ns: ns(start).toString(),
  duration_ns: (ns(end) - ns(start)).toString(),
});
console.log(
  JSON.stringify({
    protocol: args.protocol,
    service: args.service,
    run_id: runId,
    trace_id: root.spanContext().traceId,
    spans: {
      root: span(root, 'Server', rootStart, rootEnd),
      child: span(child, 'Client', childStart, childEnd),
      grandchild: span(grandchild, 'Internal', grandStart, grandEnd),
    },
    logs: logs.map((r) => ({
      severity_text: r.severityText,
      severity_number: r.severityNumber,
      body: r.body,
      timestamp_ns: ns(r.timestamp).toString(),
    })),
    metrics: {
      counter: { name: 'kokanee_test.requests', value: 7 },
      histogram: {
        name: 'kokanee_test.latency',
        bounds,
        bucket_counts: [1, 2, 1, 1],
        count: samples.length,
        sum: samples.reduce((a, b) => a + b, 0),
        min: Math.min(...samples),
        max: Math.max(...samples),
      },
    },
  }),
);
