/**
 * Checking D1 query plans (CONVENTIONS: no SCAN of a table that grows with the customer's data): statements are
 * recorded as the production query functions prepare them, then explained with their parameters.
 */
import { env } from "cloudflare:workers";
import { observedD1 } from "./observed-d1";

export interface Prepared {
  sql: string;
  params: unknown[];
}

/** `env.DB` with every statement prepared through it recorded (drizzle's and raw alike), with its parameters. */
export function recordingDb(): { db: D1Database; prepared: Prepared[] } {
  const prepared: Prepared[] = [];
  const db = observedD1({
    prepared: (sql) => prepared.push({ sql, params: [] }),
    // Statements are bound right after they are prepared: the newest entry of the same text is this one.
    bound: (sql, params) => {
      const entry = [...prepared].reverse().find((p) => p.sql === sql);
      if (entry) entry.params = params;
    },
  });
  return { db, prepared };
}

/** Every step of SQLite's plan for the recorded statements. */
export async function plans(prepared: Prepared[]): Promise<string[]> {
  const steps: string[] = [];
  for (const { sql, params } of prepared) {
    const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .bind(...params)
      .all<{ detail: string }>();
    steps.push(...results.map((r) => r.detail));
  }
  return steps;
}

/**
 * Plan steps that walk rows growing with the customer's data: a table scan, an index built by scanning
 * (`AUTOMATIC`), or a search bounded by the workspace alone. CTEs and subqueries (`tree`, `chain`, `t`, `c`, `k`,
 * `sized`) and `json_each` parameters may be scanned: they hold what one request asked for, or one page.
 */
export const walks = (steps: string[]) =>
  steps.filter(
    (s) =>
      (/^SCAN \w+$/.test(s) && !/^SCAN (tree|t|chain|c|k|j|sized)$/.test(s)) ||
      /AUTOMATIC/.test(s) ||
      /\(workspace_id=\?\)$/.test(s),
  );
