// The monitor: `import { createMonitor } from 'express-lifeline/monitor'`. Nothing here is
// imported by the main entry, and knex and its drivers load only when a database is opened.
export { createMonitor, type CheckReport, type Monitor, type MonitorOptions } from './monitor.js';
export {
  MonitorEvents,
  type Listener,
  type MonitorEventMap,
  type MonitorEventName,
  type PingEvent,
  type ServerEvent,
  type StatusEvent,
} from './events.js';
export { openStore, MonitorStore, type OpenStoreOptions } from './store/index.js';
export { MissingReferenceError } from './store/errors.js';
export type { ServerListOptions, ServerWithStatus } from './store/servers.js';
export type { CheckRecord, RecordHook, ResultFilter, StatusFilter } from './store/results.js';
export type { RunInterval, StateChange } from './store/history.js';
export type { UserWithHash } from './store/admin.js';
export type { Delivery, NotificationEvent, OutboxMessage, OutboxState } from './store/outbox.js';
export {
  DEFAULT_RETRY_SCHEDULE,
  formatDuration,
  signWebhook,
  webhookKey,
  type NotificationPayload,
  type NotifyOptions,
  type SenderStats,
  type SmsOptions,
} from './notify/index.js';
export { MissingDependencyError, openDatabase, type DatabaseOption, type Dialect, type KnexLog } from './database.js';
export { migrate, migrationSource, MIGRATION_CONFIG } from './migrations/index.js';
export {
  parseStatusRanges,
  validateNotificationConfig,
  validateServer,
  type ValidateNotificationOptions,
  type ValidateServerOptions,
} from './validate.js';
export { checkServer, describeError, targetUrl, type CheckContext, type CheckOutcome } from './checks/index.js';
export { nextState } from './state.js';
export { uptimeBetween, uptimeFigures, mergeIntervals } from './uptime.js';
export { Scheduler, type SchedulerStats } from './scheduler.js';
export type { MaintenanceReport } from './maintenance.js';
export * from './types.js';
export { monitor, type MonitorMiddleware, type MonitorWebOptions } from './middleware.js';
export { createMonitorApp, type MonitorApp } from './app.js';
export { apiRouter, type ApiRouterOptions, type LoginThrottle } from './api/index.js';
export {
  AuthError,
  Authenticator,
  hashPassword,
  monitorProduction,
  resolveSecret,
  seedAdmin,
  TokenError,
  Tokens,
  verifyPassword,
  type AdminSeed,
  type TokenClaims,
  type TokenLifetimes,
  type TokenType,
} from './auth/index.js';
export * from './live/index.js';
