import { AsyncLocalStorage } from "node:async_hooks";
import { runConsistencyContext } from "../data-source/consistency";
import { InvalidActorError } from "../errors";

const storage = new AsyncLocalStorage<string>();

/** The request/response/next shape of Express-style middleware. */
export type Middleware<Request> = (request: Request, response: unknown, next: (error?: unknown) => void) => void;

/**
 * The acting user, carried through every `await` of a unit of work (AsyncLocalStorage). Inside a context, every
 * write path fills `created_by` (inserts) and `updated_by` (inserts, updates, soft deletes and restores) of
 * {@link FullAuditModel} entities; a value the application set explicitly wins, and outside a context nothing is
 * invented.
 *
 * @example
 * await AuditContext.run(user.id, () => db.getRepository(Order).save(order));
 *
 * // Express, or NestJS with app.use(): the actor of each request
 * app.use(AuditContext.middleware((req: Request) => req.user?.id));
 */
export class AuditContext {
  private constructor() {}

  /**
   * Runs `fn` with `actor` as the current actor, through every await below it.
   *
   * @throws InvalidActorError when the actor is not a non-empty string of at most 255 characters without NUL
   * (it must fit the audit columns): a problem of the code that found the actor, answered 500 by the NestJS filter.
   */
  static run<T>(actor: string, fn: () => T): T {
    if (typeof actor !== "string" || actor === "" || actor.length > 255 || actor.includes("\u0000")) {
      throw InvalidActorError.of(actor);
    }
    // a request is also one context for read-your-writes
    return storage.run(actor, () => runConsistencyContext(fn));
  }

  /** The current actor, or undefined outside a context. */
  static currentActor(): string | undefined {
    return storage.getStore();
  }

  /**
   * Middleware for Express-style frameworks that runs the rest of each request with the actor `actorOf(request)`
   * answers (no context when it answers null or undefined).
   */
  static middleware<Request>(actorOf: (request: Request) => string | null | undefined): Middleware<Request> {
    return (request, _response, next) => {
      let actor: string | null | undefined;
      try {
        actor = actorOf(request);
      } catch (error) {
        next(error);
        return;
      }
      if (actor === null || actor === undefined) next();
      else AuditContext.run(actor, () => next());
    };
  }
}
