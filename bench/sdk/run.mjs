// `node bench/sdk/run.mjs [runs]`: SDK bytes (gzip -9, brotli 11) beside the installed npm builds of other SDKs,
// and Chromium main-thread time to load the SDK and track 1,000 events, ours beside analytics-next.
// Needs `npm run build` first (packages/browser/dist) and /usr/bin/chromium.
import { mainThreadTable } from "./main-thread.mjs";
import { sizeTable } from "./sizes.mjs";

const runs = Number(process.argv[2] ?? 5);
const pad = (s, n) => String(s).padEnd(n);
const num = (n) => n.toLocaleString("en-US");

console.log("SDK size (initial script-tag file)");
console.log(
  `${pad("file", 40)}${pad("raw", 10)}${pad("gzip -9", 10)}${pad("brotli 11", 11)}gzip × ours  brotli × ours`,
);
for (const r of sizeTable()) {
  console.log(
    `${pad(r.label, 40)}${pad(num(r.raw), 10)}${pad(num(r.gzip), 10)}${pad(num(r.brotli), 11)}` +
      `${pad(r.gzipRatio.toFixed(2), 13)}${r.brotliRatio.toFixed(2)}`,
  );
}

console.log(`\nChromium main-thread time: load + track ${num(1000)} events until all delivered (median of ${runs})`);
const rows = await mainThreadTable(runs);
console.log(`${pad("sdk", 26)}${pad("task ms", 10)}${pad("script ms", 11)}${pad("delivered ms", 14)}requests`);
for (const r of rows) {
  console.log(
    `${pad(r.name, 26)}${pad(r.task.toFixed(1), 10)}${pad(r.script.toFixed(1), 11)}${pad(r.delivered, 14)}${r.requests}`,
  );
}
const [ours, ...segment] = rows;
for (const s of segment) console.log(`main-thread task time, tessera / ${s.name}: ${(ours.task / s.task).toFixed(2)}`);
