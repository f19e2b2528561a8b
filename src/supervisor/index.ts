/**
 * `express-lifeline/supervisor`: ServiceManager on its own, for an Electron main process
 * or any launcher. Loads no Express, helmet, cors or winston (test/supervisor/subpath.test.ts).
 */
export {
  ServiceManager,
  ApiError,
  type ServiceManagerOptions,
  type ServiceState,
  type ServiceStatus,
  type HealthResult,
  type UnhealthyEvent,
  type RestartingEvent,
} from './service-manager.js';
