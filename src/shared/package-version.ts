// keyshift's version, from package.json: src/shared/ and its compiled dist/shared/
// both sit two levels below the package root.
import { readFileSync } from 'node:fs'

export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version
