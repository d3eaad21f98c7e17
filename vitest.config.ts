import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { configDefaults, defineConfig } from "vitest/config";
import { webhookReceiver } from "./test/support/mocks/webhook-receiver";

/**
 * Two kinds of tests: the Worker's own, inside workerd (storage isolated per file), and
 * Node-side ones (SDK core, real Chromium, real clients against `wrangler dev`).
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "d1/migrations"));
  // The Worker's outbound requests: the fake customer endpoint answers its host; everything else goes out as usual.
  const receiver = webhookReceiver();
  return {
    test: {
      // Vitest defaults to one worker fewer than the cores: one on these 2-core machines. Most of a workers-project file
      // is its own workerd runtime starting, so two files at a time cut the run from ~14 to ~9.5 minutes.
      maxWorkers: 2,
      projects: [
        {
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
            name: "workers",
            include: ["workers/**/*.test.ts", "d1/**/*.test.ts"],
            setupFiles: ["./workers/test-support/apply-migrations.ts"],
          },
        },
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
