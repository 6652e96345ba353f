import { ratioOf, type Measurement } from "./measure";

/** Which subject each scenario's library time is compared with in the chart. */
const BASELINES: Record<string, string> = {
  create: "raw",
  "find-by-id": "raw",
  "bulk-10k": "raw",
  "bulk-100k": "raw",
  "to-dict": "class-transformer",
  "from-dict": "class-transformer",
};

/**
 * A horizontal bar chart (SVG, no dependencies) of time ratios: for each dialect and scenario, the library's median
 * against its baseline (the raw driver, or class-transformer), and plain TypeORM against the raw driver where
 * measured. Left of the 1.0 line is faster than the baseline.
 */
export function drawChart(rows: readonly Measurement[], subtitle: string): string {
  const bars: { label: string; value: number; kind: "library" | "typeorm" }[] = [];
  for (const dialect of ["sqlite", "postgres", "mariadb"]) {
    for (const [scenario, baseline] of Object.entries(BASELINES)) {
      const find = (subject: string) =>
        rows.find((r) => r.dialect === dialect && r.scenario === scenario && r.subject === subject);
      const base = find(baseline);
      const library = find("library");
      if (!base || !library) continue;
      bars.push({
        label: `${dialect} ${scenario}: library / ${baseline}`,
        value: ratioOf(library, base),
        kind: "library",
      });
      const typeorm = find("typeorm");
      if (typeorm)
        bars.push({
          label: `${dialect} ${scenario}: TypeORM / raw`,
          value: ratioOf(typeorm, base),
          kind: "typeorm",
        });
    }
  }
  const rowHeight = 18;
  const left = 300;
  const width = 820;
  const top = 50;
  const max = Math.max(2, ...bars.map((b) => b.value));
  const scale = (width - left - 60) / max;
  const height = top + bars.length * rowHeight + 40;
  const escape = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">Time ratios (lower is faster; 1.0 = as fast as the baseline)</text>`,
    `<text x="10" y="38" fill="#555">${escape(subtitle)}</text>`,
  ];
  bars.forEach((bar, i) => {
    const y = top + i * rowHeight;
    const colour = bar.kind === "library" ? "#2f7ed8" : "#b0b0b0";
    parts.push(`<text x="${left - 8}" y="${y + 12}" text-anchor="end">${escape(bar.label)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y + 2}" width="${Math.max(1, bar.value * scale).toFixed(1)}" height="${rowHeight - 5}" fill="${colour}"/>`,
    );
    parts.push(`<text x="${left + bar.value * scale + 4}" y="${y + 12}">${bar.value.toFixed(2)}x</text>`);
  });
  const one = left + scale;
  parts.push(
    `<line x1="${one}" y1="${top - 4}" x2="${one}" y2="${top + bars.length * rowHeight}" stroke="#d33" stroke-dasharray="4 3"/>`,
  );
  parts.push(`<text x="${one + 3}" y="${top + bars.length * rowHeight + 16}" fill="#d33">1.0</text>`);
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
