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

/** The last instant {@link storedUtcDatetime} wrote, and its text. */
let lastStoredTime = Number.NaN;
let lastStoredText = "";

/**
 * An instant as TypeORM writes it to a SQLite `datetime` column (`YYYY-MM-DD HH:MM:SS.mmm`, UTC), as one flat string,
 * for the years 0000 to 9999; undefined for other years and invalid dates (the driver converts those). TypeORM joins
 * thirteen pieces into a rope that the driver flattens again when it binds it; one row's instants, and the rows of a
 * busy moment, share the same millisecond, so the last one is answered again.
 *
 * @internal
 */
export function storedUtcDatetime(date: Date): string | undefined {
  const time = date.getTime();
  if (time === lastStoredTime) return lastStoredText;
  if (!(time >= MIN_MS && time < MAX_MS)) return undefined;
  // the engine's own formatter answers a flat string; replacing "T" copies it flat, and the slice leaves the "Z" out
  const text = date.toISOString().replace("T", " ").slice(0, 23);
  lastStoredTime = time;
  lastStoredText = text;
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

/** The number written by `count` digits at `start`, or -1 when one of them is not a digit. */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = 0; i < count; i++) {
    const d = text.charCodeAt(start + i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil), in integer arithmetic. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Milliseconds since the epoch of an ISO 8601 date-time with an explicit offset (`Z`, `+hh:mm`, `+hhmm`):
 * `YYYY-MM-DDTHH:MM[:SS[.fraction]]offset`. Undefined when the text is not one, or names an impossible date
 * (February 30th is refused, not rolled over). Reads the characters directly: no regular expression, no allocation.
 */
export function parseIsoInstant(text: string): number | undefined {
  // input often repeats an instant (created and updated at once): the last one read is answered again
  if (text === lastIsoText) return lastIsoTime;
  const time = parseInstant(text, false);
  lastIsoText = text;
  lastIsoTime = time;
  return time;
}

let lastIsoText = "";
let lastIsoTime: number | undefined;

/**
 * Milliseconds since the epoch of an instant as TypeORM stores it in a SQLite `datetime` column, UTC without an
 * offset: `YYYY-MM-DD HH:MM`, `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD HH:MM:SS.mmm` (what TypeORM's hydration reads by
 * adding "T" and "Z"). Undefined for any other text, which TypeORM's own hydration then reads, so the instant is
 * always the one TypeORM would give.
 *
 * @internal
 */
export function parseStoredUtcDatetime(text: string): number | undefined {
  const n = text.length;
  return n === 16 || n === 19 || n === 23 ? parseInstant(text, true) : undefined;
}

function parseInstant(text: string, stored: boolean): number | undefined {
  const n = text.length;
  if (
    n < (stored ? 16 : 17) ||
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== (stored ? 32 : 84) ||
    text.charCodeAt(13) !== 58
  )
    return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59)
    return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return undefined;
  let i = 16;
  let second = 0;
  let millis = 0;
  if (text.charCodeAt(i) === 58) {
    second = digits(text, i + 1, 2);
    if (second < 0 || second > 59) return undefined;
    i += 3;
    if (text.charCodeAt(i) === 46) {
      const start = ++i;
      while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
      const length = i - start;
      if (length < 1 || length > 9) return undefined;
      millis = digits(text, start, Math.min(3, length)) * (length >= 3 ? 1 : length === 2 ? 10 : 100);
    }
  }
  let offset: number;
  const sign = text.charCodeAt(i);
  if (stored) {
    // no offset (UTC); the caller's length gate leaves a fraction of exactly three digits only
    if (i !== n) return undefined;
    offset = 0;
  } else if (sign === 90 && i + 1 === n) offset = 0;
  else if (sign === 43 || sign === 45) {
    const hh = digits(text, i + 1, 2);
    const colon = text.charCodeAt(i + 3) === 58 ? 1 : 0;
    const mm = digits(text, i + 3 + colon, 2);
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || i + 5 + colon !== n) return undefined;
    offset = (sign === 45 ? -1 : 1) * (hh * 60 + mm) * 60_000;
  } else return undefined;
  return daysFromCivil(year, month, day) * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset;
}
