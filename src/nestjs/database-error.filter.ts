import { randomUUID } from "node:crypto";
import { Catch, Logger, Optional, type ArgumentsHost, type ExceptionFilter } from "@nestjs/common";
import { HttpAdapterHost } from "@nestjs/core";
import {
  DatabaseError,
  DatabaseUnavailableError,
  ForeignKeyViolationError,
  InvalidJsonValueError,
  InvalidValueError,
  StaleEntityError,
  UniqueConstraintError,
  ValidationError,
  ValueTooLongError,
} from "../errors";

/** The body the filter answers with. */
export interface DatabaseErrorBody {
  /** The HTTP status, repeated in the body as NestJS's own errors do. */
  readonly statusCode: number;
  /** The error class: `ValidationError`, `UniqueConstraintError`, ... */
  readonly error: string;
  /**
   * The error's message (it names the entity, the property and the value the client sent); on a 500, a generic
   * sentence: nothing of the database reaches the client.
   */
  readonly message: string;
  /** Every issue of a `ValidationError`. */
  readonly issues?: ValidationError["issues"];
  /** A `StaleEntityError`'s entity class name. */
  readonly entity?: string;
  /** A `StaleEntityError`'s entity key. */
  readonly id?: unknown;
  /** A `StaleEntityError`'s version the change was made against. */
  readonly expectedVersion?: number;
  /** A `StaleEntityError`'s version the row is at now, or null when it is gone. */
  readonly actualVersion?: number | null;
  /** On a 500: the id the error was logged under (the request's `x-request-id` when it sent a usable one). */
  readonly requestId?: string;
}

/**
 * The HTTP status of each kind of the library's errors: bad input is 400; a duplicate, a change to a row that moved
 * on since it was read (`StaleEntityError`), or a delete of a row others still refer to, 409 (the request conflicts with the data as it is now); a reference to a row that does not exist
 * 422 (the request is well-formed, but names something that is not there: it will not work however often it is
 * sent); a database not reachable yet (a lazy start) 503; anything else 500, the server's problem.
 */
export function statusOf(error: DatabaseError): number {
  if (
    error instanceof ValidationError ||
    error instanceof InvalidValueError ||
    error instanceof ValueTooLongError ||
    error instanceof InvalidJsonValueError
  )
    return 400;
  if (error instanceof UniqueConstraintError || error instanceof StaleEntityError) return 409;
  if (error instanceof ForeignKeyViolationError) return error.reason === "missing" ? 422 : 409;
  if (error instanceof DatabaseUnavailableError) return 503;
  return 500;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The library's typed errors as HTTP answers: a `ValidationError` is 400 with every issue, the other input errors
 * (invalid id, over-long string, value that is not JSON) 400, a `UniqueConstraintError` 409, a `StaleEntityError`
 * 409 naming the entity, its id and both versions, a
 * `ForeignKeyViolationError` 422 (a missing referred row) or 409 (a row still referred to), a
 * `DatabaseUnavailableError` 503 (a lazy start, before the database answered), anything else 500 with
 * a generic message and a request id, the error itself logged through Nest's `Logger` under that id. Register it
 * globally: `{ provide: APP_FILTER, useClass: DatabaseErrorFilter }` or `app.useGlobalFilters(new
 * DatabaseErrorFilter())`. Works on Express and Fastify.
 */
@Catch(DatabaseError)
export class DatabaseErrorFilter implements ExceptionFilter<DatabaseError> {
  readonly #logger = new Logger("DatabaseErrorFilter");

  constructor(@Optional() private readonly adapterHost?: HttpAdapterHost) {}

  /** Answers the error. */
  catch(error: DatabaseError, host: ArgumentsHost): void {
    if (host.getType() !== "http") throw error;
    const status = statusOf(error);
    const http = host.switchToHttp();
    let body: DatabaseErrorBody;
    if (status === 500) {
      const header = (http.getRequest<{ headers?: Record<string, unknown> }>()?.headers ?? {})["x-request-id"];
      const requestId = typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
      this.#logger.error(`request ${requestId}: ${error.name}: ${error.message}`, error.stack);
      body = { statusCode: 500, error: "InternalServerError", message: "Internal server error", requestId };
    } else if (status === 503) {
      // where the database is and why it does not answer stays in the server's log
      body = { statusCode: 503, error: error.name, message: "The database is not reachable yet; try again shortly" };
    } else {
      body = {
        statusCode: status,
        error: error.name,
        message: error.message,
        ...(error instanceof ValidationError ? { issues: error.issues } : {}),
        ...(error instanceof StaleEntityError
          ? {
              entity: error.entity,
              id: error.id,
              expectedVersion: error.expectedVersion,
              actualVersion: error.actualVersion,
            }
          : {}),
      };
    }
    const response = http.getResponse<unknown>();
    const adapter = this.adapterHost?.httpAdapter;
    if (adapter) adapter.reply(response, body, status);
    else (response as { status(code: number): { json(body: unknown): void } }).status(status).json(body);
  }
}
