// The metric registry is created once and injected; each module declares its
// own metrics from it (Prometheus naming, bounded label sets).
import { collectDefaultMetrics, Registry } from 'prom-client'

export { Registry }

export function createRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry()
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'keyshift_process_' })
  return registry
}
