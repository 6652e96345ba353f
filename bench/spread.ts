/**
 * `npm run bench:spread -- a.json b.json c.json`: how far the same ratios moved between benchmark runs (for example
 * three consecutive `npm run bench -- --quick` runs written with `INFERENCE_BENCH_OUT`). For each dialect and scenario
 * it prints the library's ratio to its baseline in every run, and the spread: the largest over the smallest, less
 * one. The goal for a trustworthy benchmark is a spread of at most 15% on every row.
 */
import { readFileSync } from "node:fs";
import { ratioOf, type Measurement } from "./measure";

/** The baseline of each scenario (the tax rows compare with plain TypeORM). */
function baselineOf(scenario: string): string | undefined {
  if (scenario.startsWith("tax:")) return "typeorm";
  if (scenario === "create" || scenario === "find-by-id" || scenario === "update-by-id" || scenario.startsWith("bulk-"))
    return "raw";
  if (scenario.startsWith("version-check:")) return "no-version";
  if (scenario.startsWith("history:")) return "no-history";
  if (scenario.startsWith("to-dict") || scenario.startsWith("from-dict")) return "class-transformer";
  if (scenario.startsWith("crossover-")) return "insert-path";
  if (scenario.startsWith("json-")) return "no-index";
  return undefined;
}

const GOAL = 0.15;
const files = process.argv.slice(2).filter((a) => a.endsWith(".json"));
if (files.length < 2) {
  console.error("usage: npm run bench:spread -- run1.json run2.json [run3.json ...]");
  process.exit(2);
}
const runs = files.map((file) => JSON.parse(readFileSync(file, "utf8")) as Measurement[]);
const lines: string[][] = [["dialect", "scenario", ...files.map((_, i) => `run ${i + 1}`), "spread", ""]];
let over = 0;
for (const row of runs[0]!) {
  if (row.subject !== "library") continue;
  const baseline = baselineOf(row.scenario);
  if (!baseline) continue;
  const ratios = runs.map((run) => {
    const find = (subject: string) =>
      run.find((r) => r.dialect === row.dialect && r.scenario === row.scenario && r.subject === subject);
    const library = find("library");
    const base = find(baseline);
    return library && base ? ratioOf(library, base) : undefined;
  });
  if (ratios.some((r) => r === undefined)) continue;
  const values = ratios as number[];
  const spread = Math.max(...values) / Math.min(...values) - 1;
  if (spread > GOAL) over++;
  lines.push([
    row.dialect,
    `${row.scenario} / ${baseline}`,
    ...values.map((v) => v.toFixed(2)),
    `${(spread * 100).toFixed(0)}%`,
    spread > GOAL ? "over 15%" : "",
  ]);
}
const widths = lines[0]!.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
for (const line of lines) console.log(line.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
console.log(`${lines.length - 1} rows, ${over} with a spread over ${GOAL * 100}%`);
