// A local webhook receiver for the demo: verifies each delivery's Standard
// Webhooks signature, deduplicates by webhook-id, and hands the CloudEvent on.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

export interface ReceivedEvent {
  id: string
  type: string
  receivedAt: number
  data: {
    alerts?: { id: string; type: string; severity: string; title: string; keyId: string; version: string }[]
  }
}

export async function startWebhookSink(secret: string, onEvent: (e: ReceivedEvent) => void) {
  const wh = new Webhook(secret)
  const seen = new Set<string>()
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () => {
      let event: { type: string; data: ReceivedEvent['data'] }
      try {
        event = wh.verify(body, req.headers as Record<string, string>) as typeof event
      } catch {
        res.writeHead(401).end()
        return
      }
      const id = String(req.headers['webhook-id'])
      if (!seen.has(id)) {
        seen.add(id)
        onEvent({ id, type: event.type, receivedAt: Date.now(), data: event.data })
      }
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/keyshift`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}
