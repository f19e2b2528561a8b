export { Activity, type BackendStatus, type HealthStatus } from './activity.js';
export { ConfigError, TimeoutError } from './errors.js';
export { checks } from './health/checks/index.js';
export type { KnexCheckOptions, KnexLike } from './health/checks/database.js';
export type { StaticFilesCheckOptions } from './health/checks/static-files.js';
export type { Thresholds } from './health/registry.js';
export type { CheckOutcome, CheckReturn, CheckStatus, HealthCheck, HealthCheckFn } from './health/types.js';
export { lifeline, type LifelineMiddleware, type LifelineOptions } from './lifeline.js';
export { createLogger, type ClosableLogger, type LifelineLogger, type LoggerOptions } from './logging/logger.js';
export { redactText } from './logging/redact.js';
export { corsSecurity, type CorsSecurityOptions } from './middleware/cors-security.js';
export { errorHandler, notFound, type ErrorHandlerOptions } from './middleware/error-handler.js';
export { health, type HealthMiddleware, type HealthOptions, type Readiness, type ReportSection } from './middleware/health.js';
export { keepAlive, type KeepAliveMiddleware, type KeepAliveOptions } from './middleware/keep-alive.js';
export {
  metrics,
  type MetricFamily,
  type MetricsMiddleware,
  type MetricsOptions,
  type ProcessMetrics,
  type Sample,
  type ScrapeExchange,
} from './middleware/metrics/index.js';
export type { ClosableMiddleware, ErrorMiddleware, Middleware, NextFunction } from './middleware/types.js';
export { loadConfig, type DetailsMode, type LifelineConfig, type LogFormat, type LogLevel } from './options.js';
export { serve, type ServeOptions, type Served } from './lifecycle/serve.js';
export type { ShedOptions } from './lifecycle/shed-options.js';
export type { ShedStats } from './lifecycle/load-shedder.js';
export { runCluster, type ClusterHandle, type ClusterOptions, type ReloadReport } from './cluster/primary.js';
export type { ClusterInfo, WorkerView } from './cluster/messages.js';
export {
  ApiError,
  ServiceManager,
  type HealthResult,
  type RestartingEvent,
  type ServiceManagerOptions,
  type ServiceState,
  type ServiceStatus,
  type UnhealthyEvent,
} from './supervisor/service-manager.js';
