// The metric registry is created once and injected; each module declares its
// own metrics from it (Prometheus naming, bounded label sets).
import { collectDefaultMetrics, Registry } from 'prom-client'

export { Registry }

/**
 * prom-client's default set includes three gauges whose names end in `_total`
 * (`promtool check metrics` rejects a non-counter so named). Each repeats the sum
 * of a typed gauge that stays: `sum(nodejs_active_handles)` and so on.
 */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const

/**
 * A registry with the standard Node.js process metrics (`process_*`, `nodejs_*`,
 * the names every Node dashboard and alert expects), unprefixed.
 */
export function createRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry()
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry })
    for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name)
  }
  return registry
}
