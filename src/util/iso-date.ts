/** "00".."99" and "000".."999", for padding without string work per call. */
const TWO = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
const THREE = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
const DAY_MS = 86_400_000;
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
  const days = Math.floor(time / DAY_MS);
  let rest = time - days * DAY_MS;
  const ms = rest % 1000;
  rest = (rest - ms) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
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
  return (
    TWO[(year / 100) | 0]! +
    TWO[year % 100]! +
    "-" +
    TWO[month]! +
    "-" +
    TWO[day]! +
    "T" +
    TWO[hours]! +
    ":" +
    TWO[minutes]! +
    ":" +
    TWO[seconds]! +
    "." +
    THREE[ms]! +
    "Z"
  );
}
