import {
  HttpException,
  HttpStatus,
  Injectable,
  Optional,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from "@nestjs/common";
import { HttpAdapterHost } from "@nestjs/core";
import { map, type Observable } from "rxjs";
import { getMetadataArgsStorage } from "typeorm";

/** What a 412 or 428 from {@link assertIfMatch} answers: the fields of the 409 of a `StaleEntityError`. */
export interface PreconditionFailedBody {
  /** 412, or 428 when the request sent no `If-Match` and one is required. */
  readonly statusCode: number;
  /** `PreconditionFailed` or `PreconditionRequired`. */
  readonly error: string;
  /** What happened, naming the entity, its id and the versions. */
  readonly message: string;
  /** The entity class's name. */
  readonly entity: string;
  /** The entity's primary key. */
  readonly id: unknown;
  /** The version the request's `If-Match` named (the first one, when it named several), or null. */
  readonly expectedVersion: number | null;
  /** The version the entity is at now. */
  readonly actualVersion: number;
}

const versionProperties = new WeakMap<object, string | null>();

/** The property of TypeORM's `@VersionColumn()` on the class or its ancestors, or null. */
function versionProperty(target: object): string | null {
  let found = versionProperties.get(target);
  if (found !== undefined) return found;
  found = null;
  const columns = getMetadataArgsStorage().columns;
  for (let t: unknown = target; typeof t === "function" && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
    const column = columns.find((c) => c.target === t && c.mode === "version");
    if (column) {
      found = column.propertyName;
      break;
    }
  }
  versionProperties.set(target, found);
  return found;
}

/**
 * The version an answer carries: an entity's `@VersionColumn()` value, or a plain object's `version` (what
 * `toDict` writes); undefined for anything else (arrays included).
 */
function versionOf(value: unknown): number | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const proto: unknown = Object.getPrototypeOf(value);
  const property = proto === Object.prototype || proto === null ? "version" : versionProperty(value.constructor);
  if (property === null) return undefined;
  const version = (value as Record<string, unknown>)[property];
  return Number.isSafeInteger(version) ? (version as number) : undefined;
}

/** The strong entity tag of a version, as `ETag` carries it and `If-Match` sends it back: `"3"`. */
export function versionTag(version: number): string {
  return `"${version}"`;
}

/**
 * Sets `ETag` (the {@link versionTag} of the answer's version) on answers that carry one: an entity with a
 * `@VersionColumn()`, or a `toDict` object with its `version`. Opt in per route or controller:
 * `@UseInterceptors(EntityTagInterceptor)`. A client sends the tag back in `If-Match` with its change
 * ({@link assertIfMatch}); on Express, a GET with a matching `If-None-Match` is answered 304.
 */
@Injectable()
export class EntityTagInterceptor implements NestInterceptor {
  constructor(@Optional() private readonly adapterHost?: HttpAdapterHost) {}

  /** Passes the answer through, setting its `ETag`. */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== "http") return next.handle();
    const response = context.switchToHttp().getResponse<{ setHeader?(name: string, value: string): void }>();
    return next.handle().pipe(
      map((value: unknown) => {
        const version = versionOf(value);
        if (version !== undefined) {
          const adapter = this.adapterHost?.httpAdapter;
          if (adapter) adapter.setHeader(response, "ETag", versionTag(version));
          else response.setHeader?.("ETag", versionTag(version));
        }
        return value;
      }),
    );
  }
}

/** The entity tags an `If-Match` header lists (`*` as itself); weak tags never match (RFC 9110 13.1.1). */
function listedTags(header: string): string[] {
  const tags: string[] = [];
  for (const match of header.matchAll(/\s*(\*|(?:W\/)?"[^"]*")\s*(?:,|$)/g)) tags.push(match[1]!);
  return tags;
}

/** Options of {@link assertIfMatch}. */
export interface IfMatchOptions {
  /** Answer 428 when the request sent no `If-Match` (default false: without one, nothing is checked). */
  readonly required?: boolean;
}

/**
 * The PATCH side of {@link EntityTagInterceptor}: throws a 412 (`PreconditionFailed`) unless the request's `If-Match`
 * lists the entity's current tag (or is `*`), so a client that read an older version changes nothing. Call it with
 * the entity just loaded, before applying the body: `assertIfMatch(request.headers["if-match"], note)`. Without the
 * header nothing is checked, unless `required` (then 428). The save itself stays version-checked, so a change that
 * slips in between this check and the write is still a `StaleEntityError` (409 through `DatabaseErrorFilter`).
 *
 * @throws HttpException 412 or 428 with a {@link PreconditionFailedBody}.
 */
export function assertIfMatch(
  ifMatch: string | readonly string[] | undefined,
  entity: object,
  options: IfMatchOptions = {},
): void {
  const actual = versionOf(entity);
  const name = entity.constructor.name;
  if (actual === undefined) throw new TypeError(`assertIfMatch: ${name} has no @VersionColumn() value`);
  const header = typeof ifMatch === "string" ? ifMatch : ifMatch?.join(", ");
  const id = (entity as { id?: unknown }).id;
  if (header === undefined || header.trim() === "") {
    if (!options.required) return;
    throw preconditionError(
      HttpStatus.PRECONDITION_REQUIRED,
      "PreconditionRequired",
      name,
      id,
      null,
      actual,
      `${name} ${String(id)}: send If-Match with the ETag you read (${versionTag(actual)} now)`,
    );
  }
  const tags = listedTags(header);
  if (tags.includes("*") || tags.includes(versionTag(actual))) return;
  const first = tags.map((tag) => /^"(\d{1,15})"$/.exec(tag)).find((m) => m !== null);
  const expected = first ? Number(first[1]) : null;
  throw preconditionError(
    HttpStatus.PRECONDITION_FAILED,
    "PreconditionFailed",
    name,
    id,
    expected,
    actual,
    `${name} ${String(id)}: changed since it was read (If-Match ${header.trim()}, now at version ${actual}); ` +
      `nothing was written: read it again and apply the change to that`,
  );
}

function preconditionError(
  statusCode: number,
  error: string,
  entity: string,
  id: unknown,
  expectedVersion: number | null,
  actualVersion: number,
  message: string,
): HttpException {
  const body: PreconditionFailedBody = { statusCode, error, message, entity, id, expectedVersion, actualVersion };
  return new HttpException(body, statusCode);
}
