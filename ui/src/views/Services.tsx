// Every node with RED over the range, sortable.
import { useApi } from "../api/client";
import type { Topology, TopologyNode } from "../api/types";
import { href, Link } from "../app/router";
import { HealthBadge, ServiceDot } from "../components/Health";
import { SortableTable, type Column } from "../components/SortableTable";
import { Guard } from "../components/States";
import { serviceColor } from "../lib/colors";
import { redColumns } from "./redColumns";

const columns: Column<TopologyNode>[] = [
  {
    key: "name",
    label: "Service",
    value: (n) => n.name,
    render: (n) => (
      <Link to={href(`/services/${encodeURIComponent(n.name)}`)}>
        <ServiceDot color={serviceColor(n.name)} /> {n.name}
      </Link>
    ),
  },
  { key: "type", label: "Type", value: (n) => n.type },
  { key: "health", label: "Health", value: (n) => n.health.status, render: (n) => <HealthBadge health={n.health} /> },
  ...redColumns<TopologyNode>((n) => n.red),
];

export function Services() {
  const query = useApi<Topology>("topology");
  return (
    <section>
      <div className="page-head">
        <h1>Services</h1>
      </div>
      <Guard query={query} what="services" isEmpty={(t) => t.nodes.length === 0}>
        {(topo) => (
          <div className="panel">
            <SortableTable rows={topo.nodes} columns={columns} rowKey={(n) => n.name} defaultSort="rate" testId="services-table" />
          </div>
        )}
      </Guard>
    </section>
  );
}
