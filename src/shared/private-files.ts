// keyshift's files hold auth events, notes, the pepper and dead letters: only
// the user running keyshift may read them. Directories are created 0700 and
// files 0600; the process umask is narrowed so files the embedded engine
// creates itself (chDB writes with the umask) get the same modes. Existing
// directories are not changed behind the operator's back, only reported.
import { mkdirSync, statSync } from 'node:fs'

export const PRIVATE_DIR_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600

/**
 * Adds group and other bits to the process umask (0o077), keeping any bits
 * already set. Returns the previous umask. Worker threads cannot change it.
 */
export function restrictUmask(): number {
  const previous = process.umask(0o077)
  process.umask(previous | 0o077)
  return previous
}

/** Creates `dir` and any missing parents with mode 0700 (existing ones are left as they are). */
export function mkdirPrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
}

/**
 * The paths among `paths` that exist and that group or other users may read,
 * write or enter, with their modes as octal strings ("0755").
 */
export function openToOthers(paths: readonly string[]): { path: string; mode: string }[] {
  const out: { path: string; mode: string }[] = []
  for (const path of paths) {
    let mode: number
    try {
      mode = statSync(path).mode & 0o777
    } catch {
      continue
    }
    if ((mode & 0o077) !== 0) out.push({ path, mode: `0${mode.toString(8)}` })
  }
  return out
}
