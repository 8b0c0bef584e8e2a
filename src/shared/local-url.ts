// The URL a process on the same machine uses to reach a keyshift listening on
// http.host/http.port: wildcard binds are reached over loopback.
export function localBaseUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`
}
