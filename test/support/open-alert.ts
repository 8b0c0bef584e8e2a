import type { OpenAlertOfKey } from '../../src/rotation/key-attention.ts'

/** A firing, unsilenced warning on acme v1, with `o` on top: what attention reads of an open alert. */
export const openAlert = (o: Partial<OpenAlertOfKey> = {}): OpenAlertOfKey => ({
  key_id: 'acme',
  version: 'v1',
  type: 'failure_spike',
  severity: 'warning',
  status: 'firing',
  silenced_by: [],
  ...o,
})
