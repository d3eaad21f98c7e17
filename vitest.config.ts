import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { configDefaults, defineConfig } from "vitest/config";
import { webhookReceiver } from "./test/support/mocks/webhook-receiver";

/** The Worker's tests, inside workerd. */
const WORKER_TESTS = ["workers/**/*.test.ts", "d1/**/*.test.ts"];
/**
 * The workers project shares one runtime, and so one D1 and one set of objects and queues, among the files a vitest
 * worker runs (`isolate: false`): most of a file's time was its own runtime starting (365 s of the project's files
 * isolated, 85 s shared). Every file makes its own workspaces, so they do not see each other's rows. These files run
 * what sweeps every workspace — the cron's reconciliation, deletion resumption and build sweeps — and would meet
 * what earlier files left (destinations whose mock vendors are gone, jobs left pending on purpose): each gets a
 * runtime of its own.
 */
const OWN_RUNTIME = [
  "workers/sync/reconcile.test.ts",
  "workers/erase/deletion-job.test.ts",
  "workers/audiences/unqueued-backfill.test.ts",
  // Runs the whole cron, which polls every destination earlier files left (some vendors held answers for seconds).
  "d1/queries/retention.test.ts",
];

/**
 * Two kinds of tests: the Worker's own, inside workerd, and Node-side ones (SDK core, real Chromium, real clients
 * against `wrangler dev`).
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "d1/migrations"));
  // The Worker's outbound requests: the fake customer endpoint answers its host; everything else goes out as usual.
  const receiver = webhookReceiver();
  const workersProject = (test: { name: string; isolate: boolean; include: string[]; exclude?: string[] }) => ({
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: { TEST_MIGRATIONS: migrations, ENVIRONMENT: "test", ADMIN_TOKEN: "admin_test" },
          outboundService: async (request: Request) => (await receiver.handle(request)) ?? fetch(request),
        },
      }),
    ],
    test: {
      ...test,
      exclude: [...configDefaults.exclude, ...(test.exclude ?? [])],
      setupFiles: ["./workers/test-support/apply-migrations.ts"],
      // Not vitest's 5 s, which made a timed test of every one: on a loaded 2-core CI machine a test of 67 API calls
      // crossed it. A test that hangs still fails, naming itself; speed is the benches' business.
      testTimeout: 30_000,
      // Spies are put back before every test: one a file left in place must not answer for the next file in the runtime.
      restoreMocks: true,
    },
  });
  return {
    test: {
      // Vitest defaults to one worker fewer than the cores: one on these 2-core machines. Two keep both cores busy (two
      // workerd runtimes for the Worker's files, Chromium and `wrangler dev` for the Node-side ones).
      maxWorkers: 2,
      projects: [
        workersProject({ name: "workers", isolate: false, include: WORKER_TESTS, exclude: OWN_RUNTIME }),
        workersProject({ name: "workers-own-runtime", isolate: true, include: OWN_RUNTIME }),
        {
          test: {
            name: "node",
            include: ["packages/**/*.test.ts", "test/**/*.test.ts", "scripts/**/*.test.ts"],
            exclude: [...configDefaults.exclude, "test/console/**"],
            environment: "node",
            testTimeout: 60_000,
            hookTimeout: 180_000,
          },
        },
        {
          // The console in real Chromium: one dev server and one browser shared by every file (globalSetup).
          test: {
            name: "console",
            include: ["test/console/**/*.test.ts"],
            environment: "node",
            globalSetup: ["./test/console/support/global-setup.ts"],
            testTimeout: 60_000,
            hookTimeout: 180_000,
          },
        },
      ],
    },
  };
});
