import type { ComponentChildren } from "preact";

/** One column of a {@link Table}: its header, what a row shows in it, and how its cells are set. */
export interface Column<Row> {
  header: string;
  cell(row: Row): ComponentChildren;
  /** `num` right-aligns figures, `reason` wraps long messages, `actions` holds a row's buttons. */
  class?: "num" | "reason" | "actions";
  /** This column names the row (`<th scope="row">`), so a screen reader announces it with every cell. */
  rowHeader?: boolean;
}

/**
 * The console's data table: column headers scoped for assistive technology, one row per item. It scrolls sideways
 * inside its own box on a narrow screen (375 px), rather than pushing the whole page sideways.
 *
 * @example
 * <Table rows={members} rowKey={(m) => m.profile_id}
 *   columns={[{ header: "Profile", cell: (m) => m.profile_id }, { header: "Since", cell: (m) => <Time iso={m.since} /> }]} />
 */
export function Table<Row>({
  columns,
  rows,
  rowKey,
}: {
  columns: Column<Row>[];
  rows: readonly Row[];
  rowKey(row: Row, index: number): string | number;
}) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard (WCAG 2.1.1)
    <div class="table-scroll" tabIndex={0}>
      <table>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col">
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={rowKey(row, i)}>
              {columns.map((c) =>
                c.rowHeader ? (
                  <th key={c.header} scope="row" class={c.class}>
                    {c.cell(row)}
                  </th>
                ) : (
                  <td key={c.header} class={c.class}>
                    {c.cell(row)}
                  </td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
