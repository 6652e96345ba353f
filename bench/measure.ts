/** One benchmark result row, as written to bench/results.json. */
export interface Measurement {
  readonly dialect: "sqlite" | "postgres" | "mariadb" | "none";
  readonly scenario: string;
  readonly subject: string;
  readonly medianMs: number;
  readonly opsPerSec: number;
}

/**
 * Runs each subject once per round, alternating the subjects round by round (and their order), so that machine
 * drift hits all of them alike; answers the median time per round and operations per second.
 */
export async function measure(
  scenario: string,
  rounds: number,
  subjects: Record<string, () => unknown>,
  opsPerRound: number,
  dialect: Measurement["dialect"] = "none",
): Promise<Measurement[]> {
  const names = Object.keys(subjects);
  const times = new Map<string, number[]>(names.map((n) => [n, []]));
  for (const name of names) await subjects[name]!(); // warm-up
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const started = process.hrtime.bigint();
      await subjects[name]!();
      times.get(name)!.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  return names.map((subject) => {
    const sorted = [...times.get(subject)!].sort((a, b) => a - b);
    const medianMs = sorted[Math.floor(sorted.length / 2)]!;
    return {
      dialect,
      scenario,
      subject,
      medianMs: round3(medianMs),
      opsPerSec: Math.round((opsPerRound / medianMs) * 1000),
    };
  });
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
