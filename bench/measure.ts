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
  /** Rows measured in several processes (the serializer's): each process's ratio; the row is the median process's. */
  readonly processRatios?: readonly number[];
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

/** What {@link measure} runs around the timed rounds, untimed. */
export interface MeasureOptions {
  /** Runs before each round of each subject, outside the timing (for example: empty the table the round fills). */
  readonly beforeRound?: (subject: string) => unknown;
}

/** What {@link measureInterleaved} runs around its rounds, untimed. */
export interface InterleavedOptions {
  /** Conversions or operations a step, per subject (default 1). */
  readonly opsPerStep?: number | Readonly<Record<string, number>>;
  /** Runs before each round (the subjects share it). */
  readonly beforeRound?: () => unknown;
  /** Runs each round inside it, for example in one transaction (only the steps are timed). */
  readonly wrapRound?: (round: () => Promise<void>) => Promise<unknown>;
  /** Rounds run first and thrown away (default {@link WARMUP_ROUNDS}). */
  readonly warmupRounds?: number;
}

/**
 * Runs each subject once per round, alternating the subjects round by round (and their order), so that machine
 * drift hits all of them alike, after {@link WARMUP_ROUNDS} discarded rounds of each; answers the median, fastest
 * and slowest time per round and operations per second. `opsPerRound` is one count for every subject, or a count
 * per subject (a fast subject runs more operations a round, so that its round is long enough to measure steadily).
 * Before each round, untimed: `options.beforeRound`. (No forced garbage collection between rounds: measured, it
 * left V8's young generation shrunk, and the subject that allocates more, timed in the round after, paid for it.)
 */
export async function measure(
  scenario: string,
  rounds: number,
  subjects: Record<string, () => unknown>,
  opsPerRound: number | Readonly<Record<string, number>>,
  dialect: Measurement["dialect"] = "none",
  options: MeasureOptions = {},
): Promise<Measurement[]> {
  const began = Date.now();
  const names = Object.keys(subjects);
  const times = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let round = 0; round < WARMUP_ROUNDS; round++)
    for (const name of names) {
      await options.beforeRound?.(name);
      await subjects[name]!();
    }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      await options.beforeRound?.(name);
      const started = process.hrtime.bigint();
      await subjects[name]!();
      times.get(name)!.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  return summarize(scenario, names, times, opsPerRound, dialect, began);
}

/**
 * Like {@link measure}, for subjects given as one step each (`operations[subject](i)`, i counting from 0 in every
 * round): each round runs step i of every subject back to back before step i + 1, alternating their order step by
 * step, and a subject's round time is the sum of its steps' times. Two subjects' steps then sit milliseconds apart
 * instead of a round apart, so what moves the machine's speed (a slow log flush on the server, the other core busy,
 * the host's neighbours) hits both alike; this is what makes a ratio repeat from run to run. A step is one operation,
 * or `options.opsPerStep[subject]` of them (a fast subject does more a step).
 */
export async function measureInterleaved(
  scenario: string,
  rounds: number,
  operations: Record<string, (i: number) => unknown>,
  steps: number,
  dialect: Measurement["dialect"] = "none",
  options: InterleavedOptions = {},
): Promise<Measurement[]> {
  const began = Date.now();
  const { opsPerStep = 1, beforeRound, wrapRound = (round) => round(), warmupRounds = WARMUP_ROUNDS } = options;
  const names = Object.keys(operations);
  const run = names.map((name) => operations[name]!);
  const forward = names.map((_, s) => s);
  const backward = [...forward].reverse();
  const times = new Map<string, number[]>(names.map((n) => [n, []]));
  const sums: bigint[] = names.map(() => 0n);
  const timedSteps = async () => {
    for (let i = 0; i < steps; i++)
      for (const s of i % 2 === 0 ? forward : backward) {
        const started = process.hrtime.bigint();
        await run[s]!(i);
        sums[s]! += process.hrtime.bigint() - started;
      }
  };
  const runRound = async () => {
    sums.fill(0n);
    await beforeRound?.();
    await wrapRound(timedSteps);
  };
  for (let round = 0; round < warmupRounds; round++) await runRound();
  for (let round = 0; round < rounds; round++) {
    await runRound();
    names.forEach((name, s) => times.get(name)!.push(Number(sums[s]!) / 1e6));
  }
  const opsPerRound: Record<string, number> = {};
  for (const name of names)
    opsPerRound[name] = steps * (typeof opsPerStep === "number" ? opsPerStep : opsPerStep[name]!);
  return summarize(scenario, names, times, opsPerRound, dialect, began);
}

function summarize(
  scenario: string,
  names: readonly string[],
  times: ReadonlyMap<string, number[]>,
  opsPerRound: number | Readonly<Record<string, number>>,
  dialect: Measurement["dialect"],
  began: number,
): Measurement[] {
  // where a run's minutes go (warm-up rounds and what runs between rounds included)
  console.log(`   ${dialect} ${scenario}: ${((Date.now() - began) / 1000).toFixed(1)} s`);
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
