/**
 * What the built CLI prints for hostile directives: no byte a terminal would act on, and each
 * refusal located with its hint. Regression for issue 16, items 10 and 12.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cliEnv, makeProject, runCli } from './helpers/cli.js'

// Everything a terminal acts on, but the newline that ends each line.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose.
const TERMINAL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

let cleanup: (() => Promise<void>) | undefined
afterEach(async () => {
  await cleanup?.()
  cleanup = undefined
})

describe('flux-images scan over hostile directives', () => {
  it('prints every refusal located, with its hint, and nothing a terminal would act on', async () => {
    const project = await makeProject({
      'a.md': [
        '![x](flux:a lighthouse \u001b]0;pwned\u0007 at dawn)',
        '![x](flux:a harbour \u009b2J at night)',
        '![x](flux:a fox \u0000 in snow)',
        '![x](flux:a bridge?model=flux\u001b[31m-evil)',
        `![x](flux:${'long '.repeat(1_000)})`,
        '![x](flux:a quiet field)',
        '',
      ].join('\n'),
    })
    cleanup = project.cleanup
    // Latin-1 é in a file read as UTF-8.
    await writeFile(
      join(project.root, 'b.md'),
      Buffer.concat([Buffer.from('![x](flux:caf'), Buffer.from([0xe9]), Buffer.from(' at dawn)\n')]),
    )
    const run = await runCli(['scan'], { cwd: project.root, env: cliEnv() })
    const out = `${run.stdout}${run.stderr}`
    expect(out).not.toMatch(TERMINAL)
    expect(run.stderr).toContain('a.md:1:6: The prompt contains the control character U+001B')
    expect(run.stderr).toContain('a.md:2:6: The prompt contains the control character U+009B')
    expect(run.stderr).toContain('a.md:3:6: The prompt contains the control character U+0000')
    expect(run.stderr).toContain('a.md:4:6: Unknown model "flux\\x1b[31m-evil"')
    expect(run.stderr).toContain('a.md:5:6: The prompt has 4999 characters; at most 4000')
    expect(run.stderr).toContain('4000 characters or fewer')
    expect(run.stderr).toContain('b.md:1:6: The prompt contains U+FFFD at character 4')
    expect(run.stderr.match(/hint: /g)).toHaveLength(6)
    // The one good directive is listed.
    expect(run.stdout).toContain('"a quiet field"')
  })
})
