import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from "@nestjs/common";
import { Observable, concatMap } from "rxjs";
import { DatabaseManager } from "../data-source/database-manager";

/** The request and response header {@link ConsistencyInterceptor} carries the consistency token in. */
export const CONSISTENCY_HEADER = "x-consistency-token";

/**
 * Read-your-writes across requests (with `readYourWrites: true` beside `replicas`): runs each HTTP request as a
 * consistency context of its own, at least as fresh as the token in its `x-consistency-token` header, and answers the
 * context's token in the same header when it wrote. A client that sends back the last token it got reads its own
 * writes in every later request. A malformed token, or one of another database, is an `InvalidValueError` (400
 * through {@link DatabaseErrorFilter}). Register it globally: `{ provide: APP_INTERCEPTOR, useClass:
 * ConsistencyInterceptor }`.
 */
@Injectable()
export class ConsistencyInterceptor implements NestInterceptor {
  constructor(private readonly db: DatabaseManager) {}

  /** Runs the handler inside `db.withConsistency(token, ...)` and sets the answer's token header. */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== "http") return next.handle();
    const http = context.switchToHttp();
    const header = http.getRequest<{ headers?: Record<string, unknown> }>().headers?.[CONSISTENCY_HEADER];
    const token = typeof header === "string" ? header : undefined;
    const response = http.getResponse<{ setHeader?(name: string, value: string): void }>();
    return new Observable((subscriber) => {
      this.db
        .withConsistency(
          token,
          () =>
            new Promise<void>((done) => {
              next
                .handle()
                .pipe(
                  concatMap(async (value: unknown) => {
                    const answer = await this.db.consistencyToken();
                    if (answer !== undefined) response.setHeader?.(CONSISTENCY_HEADER, answer);
                    return value;
                  }),
                )
                .subscribe({
                  next: (value) => subscriber.next(value),
                  error: (error: unknown) => {
                    subscriber.error(error);
                    done();
                  },
                  complete: () => {
                    subscriber.complete();
                    done();
                  },
                });
            }),
        )
        .catch((error: unknown) => subscriber.error(error));
    });
  }
}
