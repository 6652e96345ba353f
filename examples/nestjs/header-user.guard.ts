import { Injectable, type CanActivate, type ExecutionContext } from "@nestjs/common";

/**
 * A stand-in for real authentication (a JWT or session guard): the `x-user-id` header becomes `request.user`. Guards
 * run after middleware and before interceptors, so the AuditInterceptor sees the user this guard set.
 */
@Injectable()
export class HeaderUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown>; user?: { id: string } }>();
    const id = request.headers["x-user-id"];
    if (typeof id === "string" && id !== "") request.user = { id };
    return true;
  }
}
