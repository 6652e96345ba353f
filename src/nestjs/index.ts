/**
 * `@inference-core/database/nestjs`: the library as a NestJS module, an audit interceptor, an error filter and a
 * health indicator for `@nestjs/terminus`. The package root never loads NestJS; this entry point needs
 * `@nestjs/common`, `@nestjs/core` and `@nestjs/typeorm` (11 or 12).
 *
 * @packageDocumentation
 */
export { DatabaseModule, getDatabaseManagerToken } from "./database.module";
export type {
  DatabaseModuleOptions,
  DatabaseModuleUrlConfig,
  DatabaseModuleAsyncOptions,
  DatabaseModuleExtras,
} from "./database-module-options";
export { AuditInterceptor, AUDIT_ACTOR_FROM, defaultActorFrom } from "./audit.interceptor";
export type { ActorFrom } from "./audit.interceptor";
export { ConsistencyInterceptor, CONSISTENCY_HEADER } from "./consistency.interceptor";
export { DatabaseErrorFilter, statusOf } from "./database-error.filter";
export type { DatabaseErrorBody } from "./database-error.filter";
export { EntityTagInterceptor, assertIfMatch, versionTag } from "./entity-tag";
export type { IfMatchOptions, PreconditionFailedBody } from "./entity-tag";
export { DatabaseHealthIndicator } from "./database-health.indicator";
export type {
  DatabaseHealthIndicatorResult,
  DatabaseHealthDetails,
  DatabaseHealthOptions,
} from "./database-health.indicator";
