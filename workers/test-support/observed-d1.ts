/**
 * `env.DB` with hooks on what the code under test sends it: each statement as it is prepared and bound, each
 * `batch()` before it reaches D1, each single statement's result before the caller sees it. Tests count round trips,
 * record parameters and query plans, or change the database between two of the code's statements (a concurrent
 * writer, deterministically). The statements still run on the real D1.
 */
import { env } from "cloudflare:workers";

export interface D1Hooks {
  /** A statement was prepared (drizzle's and raw alike). */
  prepared?(sql: string): void;
  /** A prepared statement was bound to `params`. */
  bound?(sql: string, params: unknown[]): void;
  /** Runs before each `batch()` reaches D1. */
  beforeBatch?(statements: D1PreparedStatement[]): void | Promise<void>;
  /** Runs after a statement run alone (`first`, `all`, `raw`, `run`) answered, before its caller sees the answer. */
  afterRun?(sql: string): void | Promise<void>;
}

const RUNS = new Set<PropertyKey>(["first", "all", "raw", "run"]);
/** The real statement behind each observed one. */
const real = new WeakMap<D1PreparedStatement, D1PreparedStatement>();
const unwrap = (s: D1PreparedStatement) => real.get(s) ?? s;

/** `env.DB` (or `db`) with `hooks` on every statement and batch sent through it. */
export function observedD1(hooks: D1Hooks, db: D1Database = env.DB): D1Database {
  const observe = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const observed = new Proxy(statement, {
      get(target, prop) {
        if (prop === "bind")
          return (...params: unknown[]) => {
            hooks.bound?.(sql, params);
            return observe(target.bind(...params), sql);
          };
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (!RUNS.has(prop)) return value.bind(target);
        return async (...args: unknown[]) => {
          const result = await value.apply(target, args);
          await hooks.afterRun?.(sql);
          return result;
        };
      },
    });
    real.set(observed, statement);
    return observed;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare")
        return (sql: string) => {
          hooks.prepared?.(sql);
          return observe(target.prepare(sql), sql);
        };
      if (prop === "batch")
        return async (statements: D1PreparedStatement[]) => {
          await hooks.beforeBatch?.(statements);
          // D1 takes only its own statements in a batch, not their proxies.
          return target.batch(statements.map(unwrap));
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
