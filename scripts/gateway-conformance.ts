// Prints the gateway conformance table (docs/gateways/README.md): what each
// preset's documentation-built fixtures become. Run after changing a preset or a
// fixture and paste the output between the markers of that README:
//   node --import tsx scripts/gateway-conformance.ts
import { conformanceTable } from '../src/ingest/decode/conformance/run.ts'

process.stdout.write(`${conformanceTable()}\n`)
