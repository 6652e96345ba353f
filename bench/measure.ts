/** One benchmark result row, as written to bench/results.json. */
export interface Measurement {
  readonly dialect: "sqlite" | "postgres" | "mariadb" | "none";
  readonly scenario: string;
  readonly subject: string;
  readonly medianMs: number;
  /** The fastest and slowest measured round (warm-up rounds are not counted). */
  readonly minMs: number;
  readonly maxMs: number;
  readonly opsPerSec: number;
  /** Operations in one round of this subject (subjects of a scenario may run different numbers). */
  readonly opsPerRound?: number;
  /** Each measured round's time, in the order run (rounds of all subjects alternate, so round i pairs them). */
  readonly roundsMs?: readonly number[];
}

/**
 * The time of an operation of `row` as a multiple of `baseline`'s: the median of the per-round ratios when both ran
 * the same rounds (each round runs every subject back to back, so a pair shares the machine's state at that moment
 * and drift between rounds cancels), the ratio of the medians otherwise; per operation where the two ran different
 * numbers of operations a round.
 */
export function ratioOf(row: Measurement, baseline: Measurement): number {
  const a = row.roundsMs;
  const b = baseline.roundsMs;
  const scale = row.opsPerRound && baseline.opsPerRound ? baseline.opsPerRound / row.opsPerRound : 1;
  if (!a || !b || a.length !== b.length || a.length === 0) return (row.medianMs / baseline.medianMs) * scale;
  const ratios = a.map((ms, i) => (ms / b[i]!) * scale).sort((x, y) => x - y);
  const middle = ratios.length / 2;
  return ratios.length % 2 === 1 ? ratios[Math.floor(middle)]! : (ratios[middle - 1]! + ratios[middle]!) / 2;
}

/** Rounds run before the measured ones and thrown away (JIT, caches, pools), per subject. */
export const WARMUP_ROUNDS = 2;

/**
 * Runs each subject once per round, alternating the subjects round by round (and their order), so that machine
 * drift hits all of them alike, after {@link WARMUP_ROUNDS} discarded rounds of each; answers the median, fastest
 * and slowest time per round and operations per second. `opsPerRound` is one count for every subject, or a count
 * per subject (a fast subject runs more operations a round, so that its round is long enough to measure steadily).
 */
export async function measure(
  scenario: string,
  rounds: number,
  subjects: Record<string, () => unknown>,
  opsPerRound: number | Readonly<Record<string, number>>,
  dialect: Measurement["dialect"] = "none",
): Promise<Measurement[]> {
  const names = Object.keys(subjects);
  const times = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let round = 0; round < WARMUP_ROUNDS; round++) for (const name of names) await subjects[name]!();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const started = process.hrtime.bigint();
      await subjects[name]!();
      times.get(name)!.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  return names.map((subject) => {
    const ops = typeof opsPerRound === "number" ? opsPerRound : opsPerRound[subject]!;
    const sorted = [...times.get(subject)!].sort((a, b) => a - b);
    const medianMs = sorted[Math.floor(sorted.length / 2)]!;
    return {
      dialect,
      scenario,
      subject,
      medianMs: round3(medianMs),
      minMs: round3(sorted[0]!),
      maxMs: round3(sorted[sorted.length - 1]!),
      opsPerSec: Math.round((ops / medianMs) * 1000),
      opsPerRound: ops,
      roundsMs: times.get(subject)!.map(round3),
    };
  });
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
