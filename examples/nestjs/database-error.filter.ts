import { Catch, type ArgumentsHost, type ExceptionFilter } from "@nestjs/common";
import type { Response } from "express";
import { DatabaseError, InvalidValueError, ValidationError, ValueTooLongError, InvalidJsonValueError } from "../../src";

/** The library's typed errors as HTTP answers: bad input is 400 with every issue, anything else 500. */
@Catch(DatabaseError)
export class DatabaseErrorFilter implements ExceptionFilter {
  catch(error: DatabaseError, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (error instanceof ValidationError) {
      response.status(400).json({ error: error.name, message: error.message, issues: error.issues });
    } else if (
      error instanceof InvalidValueError ||
      error instanceof ValueTooLongError ||
      error instanceof InvalidJsonValueError
    ) {
      response.status(400).json({ error: error.name, message: error.message });
    } else {
      response.status(500).json({ error: error.name, message: error.message });
    }
  }
}
