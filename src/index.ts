import "reflect-metadata";

export { BaseModel } from "./entities/base-model";
export { FullAuditModel } from "./entities/full-audit-model";
export { AuditColumns } from "./entities/audit-columns";
export { MetadataColumns } from "./entities/metadata-columns";
export { UniqueWhileActive } from "./columns/unique-while-active";
export { SoftDeleteCascade } from "./columns/soft-delete-cascade";
export type { UniqueWhileActiveOptions } from "./columns/unique-while-active";
export { SmartJSON, SmartJsonColumn, assertJsonValue, MAX_JSON_DEPTH } from "./columns/smart-json";
export type {
  JsonValue,
  JsonObject,
  JsonArray,
  JsonEncoding,
  SmartJsonOptions,
  SmartJsonColumnOptions,
} from "./columns/smart-json";
export { JsonPath, JsonContains, JsonHasKey, JsonCondition, MAX_CONTAINS_ELEMENTS } from "./columns/json-query";
export type { JsonPathSpec, JsonScalar } from "./columns/json-query";
export { JsonIndex } from "./columns/json-index";
export type { JsonIndexOptions } from "./columns/json-index";
export { DatabaseManager, ADOPTION_WARNING } from "./data-source/database-manager";
export { History } from "./history/history";
export type { HistoryOperation, HistoryRecord } from "./history/history";
export { SnakeNamingStrategy } from "./naming/snake-naming-strategy";
export type {
  DatabaseManagerConfig,
  DatabaseManagerUrlConfig,
  DatabaseManagerOptionsConfig,
  DatabaseManagerDataSourceConfig,
  ClusterConfig,
  ManagerConfigBase,
  AppEntityRules,
  EntityList,
  InitializeOptions,
  LazyStartOptions,
  ResetOptions,
} from "./data-source/database-manager";
export type { HealthReport, HealthCheckOptions } from "./data-source/health";
export type { NodeReport, ReplicaOptions } from "./data-source/replicas";
export type { IsolationLevel, SessionOptions, SessionWork } from "./data-source/sessions";
export type { InsertManyOptions, InsertProgress, FindByIdOptions, UpdateByIdOptions } from "./data-source/direct";
export type { DialectName, PoolStats, SessionSettings } from "./dialects/dialect";
export { uuidv7, isUuid } from "./util/uuid";
export { UuidTransformer } from "./columns/uuid-column";
export { AuditContext } from "./audit/audit-context";
export type { Middleware } from "./audit/audit-context";
export { ModelSerializer } from "./serialization/model-serializer";
export type { Dict, ToDictOptions, FromDictOptions, UpdateFromDictOptions } from "./serialization/model-serializer";
export type { ValidationIssue, ValidationIssueCode, SchemaDifference } from "./errors";
export {
  ValidationError,
  UniqueConstraintError,
  ForeignKeyViolationError,
  StaleEntityError,
  InvalidActorError,
  DatabaseError,
  InvalidJsonValueError,
  InvalidStoredJsonError,
  ValueTooLongError,
  InvalidValueError,
  ConfigurationError,
  UnsafeResetError,
  NotInitializedError,
  DatabaseUnavailableError,
  DatabaseOperationError,
  TransactionConflictError,
  SessionAbortedError,
  SchemaDriftError,
} from "./errors";
