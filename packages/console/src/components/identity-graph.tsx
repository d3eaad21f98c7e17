/**
 * The identity graph of one profile (DESIGN §11): its identifiers, the profiles merged into it (with each merge
 * journal entry's rule and time on the edge), and the links the identity rules refused (dashed, with the rule),
 * laid out by dagre (a maintained layered-graph layout) and drawn as SVG. The same facts follow as tables, for
 * screen readers and for copying.
 */
import { Graph, layout } from "@dagrejs/dagre";
import type { MergeUndone, Profile, ProfileMerges } from "@tessera/protocol";
import { Time } from "./json-view";
import { type Column, Table } from "./table";
import { UndoMerge } from "./undo-merge";

type MergeEntry = ProfileMerges["data"][number];

type NodeKind = "profile" | "merged" | "identifier" | "dropped" | "owner";
interface GraphNode {
  kind: NodeKind;
  lines: string[];
  width: number;
  height: number;
  x?: number;
  y?: number;
}
interface GraphEdge {
  kind: "holds" | "merge" | "undone" | "dropped" | "owns";
  label?: string;
  width: number;
  height: number;
  points?: Array<{ x: number; y: number }>;
  x?: number;
  y?: number;
}

const CHAR_WIDTH = 7;
const LINE_HEIGHT = 16;
const clip = (text: string, max = 36) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const shortTime = (iso: string) => new Date(iso).toISOString().slice(0, 16).replace("T", " ");

function box(kind: NodeKind, lines: string[]): GraphNode {
  const width = Math.max(...lines.map((l) => l.length)) * CHAR_WIDTH + 20;
  return { kind, lines, width, height: lines.length * LINE_HEIGHT + 12 };
}

function edge(kind: GraphEdge["kind"], label?: string): GraphEdge {
  return { kind, label, width: label ? label.length * 6 + 8 : 0, height: label ? 16 : 0 };
}

/** The graph's nodes and edges from the profile and its merge journal, laid out. */
export function layoutIdentityGraph(profile: Profile, merges: ProfileMerges) {
  const g = new Graph<object, GraphNode, GraphEdge>({ multigraph: true });
  g.setGraph({ rankdir: "RL", nodesep: 18, ranksep: 70, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => edge("holds"));
  const profileNode = (id: string) => `p:${id}`;
  g.setNode(profileNode(profile.id), box("profile", ["profile", profile.id]));
  for (const i of profile.identifiers) {
    const id = `i:${i.type}:${i.value}`;
    g.setNode(id, box("identifier", [i.type, clip(i.value)]));
    g.setEdge(id, profileNode(profile.id), edge("holds"), id);
  }
  for (const m of merges.data) {
    for (const pid of [m.from, m.into]) {
      if (!g.hasNode(profileNode(pid))) g.setNode(profileNode(pid), box("merged", ["merged away", pid]));
    }
    // An undone merge stays in the journal (and the drawing) so the history reads whole.
    const label = `${m.rule} · ${shortTime(m.created_at)}${m.undone_at ? " (undone)" : ""}`;
    g.setEdge(profileNode(m.from), profileNode(m.into), edge(m.undone_at ? "undone" : "merge", label), m.id);
  }
  for (const d of merges.dropped_links) {
    const id = `d:${d.identifier.type}:${d.identifier.value}`;
    if (!g.hasNode(id)) g.setNode(id, box("dropped", [`${d.identifier.type} (not linked)`, clip(d.identifier.value)]));
    if (!g.hasNode(profileNode(d.profile_id)))
      g.setNode(profileNode(d.profile_id), box("merged", ["profile", d.profile_id]));
    g.setEdge(id, profileNode(d.profile_id), edge("dropped", `dropped: ${d.rule}`), d.id);
    if (d.owner_profile) {
      const owner = profileNode(d.owner_profile);
      if (!g.hasNode(owner)) g.setNode(owner, box("owner", ["other profile", d.owner_profile]));
      g.setEdge(id, owner, edge("owns", "belongs to"), `${d.id}:owner`);
    }
  }
  layout(g);
  const { width = 0, height = 0 } = g.graph() as { width?: number; height?: number };
  return {
    width,
    height,
    nodes: g.nodes().map((id) => ({ id, ...g.node(id) })),
    edges: g.edges().map((e) => ({ id: `${e.v}->${e.w}:${e.name ?? ""}`, ...g.edge(e) })),
  };
}

export interface IdentityGraphProps {
  profile: Profile;
  merges: ProfileMerges;
  /** Given, each merge not undone yet gets an "Undo merge" button, and this hears the API's answer. */
  onUndone?(result: MergeUndone): void;
}

export function IdentityGraph({ profile, merges, onUndone }: IdentityGraphProps) {
  const { width, height, nodes, edges } = layoutIdentityGraph(profile, merges);
  const undoColumn: Column<MergeEntry>[] = onUndone
    ? [
        {
          header: "Undo",
          class: "actions",
          cell: (m) => (m.undone_at ? <span class="muted">undone</span> : <UndoMerge merge={m} onUndone={onUndone} />),
        },
      ]
    : [];
  const summary =
    `${profile.identifiers.length} identifiers, ${merges.data.length} merges, ` +
    `${merges.dropped_links.length} dropped links`;
  return (
    <>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a wide graph scrolls, and a keyboard user must scroll it too */}
      <div class="graph-frame" tabIndex={0}>
        <svg
          class="identity-graph"
          role="img"
          aria-labelledby="graph-title graph-desc"
          viewBox={`0 0 ${Math.ceil(width)} ${Math.ceil(height)}`}
          width={Math.ceil(width)}
          height={Math.ceil(height)}
        >
          <title id="graph-title">Identity graph of {profile.id}</title>
          <desc id="graph-desc">{summary}</desc>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
            </marker>
          </defs>
          {edges.map((e) => (
            <g key={e.id} class={`edge edge-${e.kind}`}>
              <path
                d={(e.points ?? []).map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ")}
                marker-end="url(#arrow)"
              />
              {e.label && e.x !== undefined && e.y !== undefined ? (
                <text x={e.x} y={e.y + 4} text-anchor="middle" class="edge-label">
                  {e.label}
                </text>
              ) : null}
            </g>
          ))}
          {nodes.map((n) => (
            <g key={n.id} class={`node node-${n.kind}`} transform={`translate(${n.x ?? 0},${n.y ?? 0})`}>
              <rect x={-n.width / 2} y={-n.height / 2} width={n.width} height={n.height} rx="6" />
              {n.lines.map((line, i) => (
                <text key={line} x="0" y={-n.height / 2 + 6 + LINE_HEIGHT * (i + 0.75)} text-anchor="middle">
                  {line}
                </text>
              ))}
            </g>
          ))}
        </svg>
      </div>
      <p class="legend muted">
        <span class="key key-profile">this profile</span> <span class="key key-merged">merged away</span>{" "}
        <span class="key key-identifier">identifier</span> <span class="key key-dropped">dropped link (dashed)</span>
      </p>
      <h3>Merge journal</h3>
      {merges.data.length === 0 ? (
        <p class="muted">No merges formed this profile.</p>
      ) : (
        <Table
          rows={merges.data}
          rowKey={(m) => m.id}
          columns={[
            { header: "Merged", cell: (m) => <code>{m.from}</code> },
            { header: "Into", cell: (m) => <code>{m.into}</code> },
            {
              header: "Rule",
              cell: (m) => (
                <>
                  {m.rule}
                  {m.undone_at ? (
                    <span class="muted">
                      {" "}
                      (undone <Time iso={m.undone_at} />)
                    </span>
                  ) : null}
                </>
              ),
            },
            { header: "When", cell: (m) => <Time iso={m.created_at} /> },
            { header: "Message", cell: (m) => <code>{m.message_id ?? "—"}</code> },
            ...undoColumn,
          ]}
        />
      )}
      {merges.dropped_links.length > 0 ? (
        <>
          <h3>Dropped links</h3>
          <Table
            rows={merges.dropped_links}
            rowKey={(d) => d.id}
            columns={[
              {
                header: "Identifier",
                cell: (d) => (
                  <code>
                    {d.identifier.type}:{d.identifier.value}
                  </code>
                ),
              },
              { header: "Rule", cell: (d) => d.rule },
              { header: "Owned by", cell: (d) => (d.owner_profile ? <code>{d.owner_profile}</code> : "nobody") },
              { header: "When", cell: (d) => <Time iso={d.created_at} /> },
            ]}
          />
        </>
      ) : null}
    </>
  );
}
