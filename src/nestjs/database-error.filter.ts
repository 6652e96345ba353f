import { Catch, Optional, type ArgumentsHost, type ExceptionFilter } from "@nestjs/common";
import { HttpAdapterHost } from "@nestjs/core";
import {
  DatabaseError,
  InvalidJsonValueError,
  InvalidValueError,
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
  /** The error's message (it names the entity, the property and the value). */
  readonly message: string;
  /** Every issue of a `ValidationError`. */
  readonly issues?: ValidationError["issues"];
}

/** The HTTP status of each kind of the library's errors: bad input is 400, a duplicate 409, the rest 500. */
export function statusOf(error: DatabaseError): number {
  if (
    error instanceof ValidationError ||
    error instanceof InvalidValueError ||
    error instanceof ValueTooLongError ||
    error instanceof InvalidJsonValueError
  )
    return 400;
  if (error instanceof UniqueConstraintError) return 409;
  return 500;
}

/**
 * The library's typed errors as HTTP answers: a `ValidationError` is 400 with every issue, the other input errors
 * (invalid id, over-long string, value that is not JSON) 400, a `UniqueConstraintError` 409, anything else 500.
 * Register it globally: `{ provide: APP_FILTER, useClass: DatabaseErrorFilter }` or
 * `app.useGlobalFilters(new DatabaseErrorFilter())`. Works on Express and Fastify.
 */
@Catch(DatabaseError)
export class DatabaseErrorFilter implements ExceptionFilter<DatabaseError> {
  constructor(@Optional() private readonly adapterHost?: HttpAdapterHost) {}

  /** Answers the error. */
  catch(error: DatabaseError, host: ArgumentsHost): void {
    if (host.getType() !== "http") throw error;
    const status = statusOf(error);
    const body: DatabaseErrorBody = {
      statusCode: status,
      error: error.name,
      message: error.message,
      ...(error instanceof ValidationError ? { issues: error.issues } : {}),
    };
    const response = host.switchToHttp().getResponse<unknown>();
    const adapter = this.adapterHost?.httpAdapter;
    if (adapter) adapter.reply(response, body, status);
    else (response as { status(code: number): { json(body: unknown): void } }).status(status).json(body);
  }
}
