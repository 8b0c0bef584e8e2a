import { describe, expect, it } from 'vitest'
import { COMMANDS, commandsToLoad } from './commands.ts'

const ALL = COMMANDS.map((c) => c.name)

describe('commandsToLoad', () => {
  it.each([
    { args: ['--version'], want: [] },
    { args: ['-V'], want: [] },
    { args: ['detect', '--model', 'counts'], want: ['detect'] },
    // A command's own --version (the key version) still loads that command.
    { args: ['gate', 'acme', '--version', 'v1'], want: ['gate'] },
    { args: ['run', '-c', 'keyshift.yaml'], want: ['run'] },
    { args: ['incident', 'show', 'inc_0123456789abcdef'], want: ['incident'] },
    { args: [], want: ALL },
    { args: ['--help'], want: ALL },
    { args: ['--version', '--help'], want: ALL },
    { args: ['gtae'], want: ALL },
  ])('$args loads $want', ({ args, want }) => {
    expect(commandsToLoad(args)).toEqual(want)
  })

  it('lists each command once, and each module registers the command it is listed under', async () => {
    expect(new Set(ALL).size).toBe(ALL.length)
    const { Command } = await import('commander')
    for (const c of COMMANDS) {
      const program = new Command()
      ;(await c.load())(program)
      expect(program.commands.map((cmd) => cmd.name())).toEqual([c.name])
    }
  })
})
