/** "00".."99", for padding without string work per call. */
const TWO = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
/** ".000Z".."999Z": the milliseconds and the zone in one piece. */
const MILLIS_Z = Array.from({ length: 1000 }, (_, i) => `.${String(i).padStart(3, "0")}Z`);
const DAY_MS = 86_400_000;
/**
 * Instants formatted lately, by time (direct-mapped): rows carry the same instant many times over (created and
 * updated at once, one related row loaded beside many), and a string handed out again allocates nothing, which in a
 * list of thousands of entities is what the garbage collector would otherwise copy.
 */
const CACHE_SIZE = 1024;
const cachedTimes = new Float64Array(CACHE_SIZE).fill(Number.NaN);
const cachedStrings = new Array<string>(CACHE_SIZE).fill("");
/** The date part ("2024-03-04T") of the last day formatted. */
let lastDay = Number.NaN;
let lastDayText = "";
/** 0000-01-01T00:00:00.000Z and 10000-01-01T00:00:00.000Z: the years `toISOString` writes with four digits. */
const MIN_MS = -62_167_219_200_000;
const MAX_MS = 253_402_300_800_000;

/**
 * `date.toISOString()` for the years 0000 to 9999, three to four times faster (the date is split with integer
 * arithmetic, the civil-from-days algorithm, instead of the engine's general formatter); other years, and invalid
 * dates (`null`), as the engine gives them. The serializer writes every instant through it.
 *
 * @internal
 */
export function isoString(date: Date): string | null {
  const time = date.getTime();
  if (!(time >= MIN_MS && time < MAX_MS)) return Number.isNaN(time) ? null : date.toISOString();
  const slot = time & (CACHE_SIZE - 1);
  if (cachedTimes[slot] === time) return cachedStrings[slot]!;
  const days = Math.floor(time / DAY_MS);
  let rest = time - days * DAY_MS;
  const ms = rest % 1000;
  rest = (rest - ms) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  if (days !== lastDay) {
    lastDay = days;
    lastDayText = dayText(days);
  }
  // short pieces are joined flat; the result is two joins of flat strings, not a tree of twelve
  const text = lastDayText + (TWO[hours]! + ":" + TWO[minutes]! + ":" + TWO[seconds]! + MILLIS_Z[ms]!);
  cachedTimes[slot] = time;
  cachedStrings[slot] = text;
  return text;
}

/** "YYYY-MM-DDT" of a day since 1970-01-01 (years 0000 to 9999). */
function dayText(days: number): string {
  // days since 1970-01-01 to year, month, day (proleptic Gregorian; eras of 400 years start on March 1st)
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return TWO[(year / 100) | 0]! + TWO[year % 100]! + "-" + TWO[month]! + "-" + TWO[day]! + "T";
}
