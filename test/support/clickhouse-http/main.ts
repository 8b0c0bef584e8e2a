// Process entry of the test ClickHouse server (see server.ts), run by
// `spawnClickHouseHttpServer`: its own process, so the engine's data directory
// and its fd 0 (kept on /dev/null) belong to it alone. Controlled over IPC.
import { type OutageMode, type OutageOptions, startClickHouseHttpServer } from './server.ts'

type Command =
  | { id: number; op: 'outage'; mode: OutageMode; opts?: OutageOptions }
  | { id: number; op: 'restore' | 'stats' | 'close' }

const [path, port] = process.argv.slice(2)
const users = process.env.KS_TEST_CH_USERS
  ? (JSON.parse(process.env.KS_TEST_CH_USERS) as Record<string, string>)
  : undefined
const server = await startClickHouseHttpServer({ path: path!, port: Number(port ?? 0), users })
process.send!({ ready: true, url: server.url, port: server.port })
process.on('message', async (cmd: Command) => {
  try {
    let result: unknown
    if (cmd.op === 'outage') await server.outage(cmd.mode, cmd.opts)
    else if (cmd.op === 'restore') await server.restore()
    else if (cmd.op === 'stats') result = server.stats()
    else if (cmd.op === 'close') await server.close()
    process.send!({ id: cmd.id, ok: true, result })
    if (cmd.op === 'close') process.disconnect()
  } catch (err) {
    process.send!({ id: cmd.id, ok: false, error: String(err) })
  }
})
// The test process is gone: do not outlive it.
process.on('disconnect', () => process.exit(0))
