// Everything about one span: status, attributes, events, links, resource and scope.
import type { Attributes, Span } from "../api/types";
import { href, Link } from "../app/router";
import { ServiceDot } from "../components/Health";
import { serviceColor } from "../lib/colors";
import { fmtNs, fmtTime } from "../lib/format";

function AttrTable({ attrs }: { attrs: Attributes | undefined }) {
  const entries = Object.entries(attrs ?? {});
  if (!entries.length) return <p className="muted small">none</p>;
  return (
    <table className="kv">
      <tbody>
        {entries.sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => (
          <tr key={k}>
            <td className="k">{k}</td>
            <td className="v">{typeof v === "string" ? v : JSON.stringify(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function SpanDetails({ span, traceStart, onClose }: { span: Span; traceStart: number; onClose: () => void }) {
  return (
    <aside className="panel span-details" data-testid="span-details">
      <div className="details-head">
        <h2>
          <ServiceDot color={serviceColor(span.service_name)} /> {span.service_name} · {span.name}
        </h2>
        <button className="ghost" onClick={onClose} aria-label="Close details">✕</button>
      </div>
      <div className="stats small">
        <div><span className="label">Duration</span>{fmtNs(span.duration_ns)}</div>
        <div><span className="label">Starts at</span>+{fmtNs(span.start_time_unix_nano - traceStart)}</div>
        <div><span className="label">Kind</span>{span.kind}</div>
        <div><span className="label">Status</span><span className={span.status_code === "Error" ? "bad" : undefined}>{span.status_code}{span.status_message ? `: ${span.status_message}` : ""}</span></div>
        <div><span className="label">Span id</span><span className="mono">{span.span_id}</span></div>
      </div>
      <h3>Attributes</h3>
      <AttrTable attrs={span.attributes} />
      <h3>Events ({span.events.length})</h3>
      {span.events.length === 0 && <p className="muted small">none</p>}
      {span.events.map((e, i) => (
        <div key={i} className="event">
          <div>
            <b>{e.name}</b> {e.time_unix_nano ? <span className="muted small">{fmtTime(e.time_unix_nano)} (+{fmtNs(e.time_unix_nano - span.start_time_unix_nano)})</span> : null}
          </div>
          <AttrTable attrs={e.attributes} />
        </div>
      ))}
      <h3>Links ({span.links.length})</h3>
      {span.links.length === 0 && <p className="muted small">none</p>}
      {span.links.map((l, i) => (
        <div key={i} className="event">
          <Link to={href(`/traces/${l.trace_id}`, { span: l.span_id })} className="mono">{l.trace_id} / {l.span_id}</Link>
          <AttrTable attrs={l.attributes} />
        </div>
      ))}
      <h3>Resource</h3>
      <AttrTable attrs={span.resource?.attributes} />
      {span.scope?.name && (
        <p className="muted small">scope: {span.scope.name} {span.scope.version}</p>
      )}
    </aside>
  );
}
