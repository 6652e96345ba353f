import {
  Inject,
  Injectable,
  Optional,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from "@nestjs/common";
import { Observable } from "rxjs";
import { AuditContext } from "../audit/audit-context";

/** Reads the acting user from a request; `undefined` or `null` when nobody is signed in. */
export type ActorFrom = (request: unknown) => string | null | undefined;

/** Injection token of the function {@link AuditInterceptor} reads the acting user with. */
export const AUDIT_ACTOR_FROM = Symbol("inference-core.audit-actor-from");

/** The default: `request.user.id`, else `request.user.sub` (a JWT subject), as a string. */
export function defaultActorFrom(request: unknown): string | undefined {
  const user = (request as { user?: { id?: unknown; sub?: unknown } } | undefined)?.user;
  const actor = user?.id ?? user?.sub;
  return actor === undefined || actor === null ? undefined : String(actor);
}

/**
 * Runs each request handler as its acting user (`AuditContext`), so that `created_by` / `updated_by` fill
 * themselves. An interceptor runs after the guards, so the user a guard authenticated is there. Register it
 * globally: `{ provide: APP_INTERCEPTOR, useClass: AuditInterceptor }`, with `{ provide: AUDIT_ACTOR_FROM,
 * useValue: (request) => ... }` to read the user elsewhere, or `app.useGlobalInterceptors(new AuditInterceptor(fn))`.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  readonly #actorFrom: ActorFrom;

  constructor(@Optional() @Inject(AUDIT_ACTOR_FROM) actorFrom?: ActorFrom) {
    this.#actorFrom = actorFrom ?? defaultActorFrom;
  }

  /** Runs the rest of the request inside `AuditContext.run(actor, ...)` when there is an actor. */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const actor = context.getType() === "http" ? this.#actorFrom(context.switchToHttp().getRequest()) : undefined;
    if (actor === undefined || actor === null) return next.handle();
    return new Observable((subscriber) => AuditContext.run(actor, () => next.handle().subscribe(subscriber)));
  }
}
