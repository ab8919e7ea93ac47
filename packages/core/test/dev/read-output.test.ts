import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OutputFile, readOutput } from '../../src/dev/read-output.js'

let dir = ''
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-read-output-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('readOutput: the text files of a build output, for the output check', () => {
  it('visits each text file once, sorted, and no file of a missing output', async () => {
    const root = await mkdtemp(join(dir, 'case-'))
    await writeFile(join(root, 'b.html'), 'b')
    await writeFile(join(root, 'a.txt'), 'a')
    await writeFile(join(root, 'c.avif'), 'c')
    const read: OutputFile[] = []
    await readOutput(root, (file) => {
      read.push(file)
    })
    expect(read).toEqual([
      { path: join(root, 'a.txt'), text: 'a' },
      { path: join(root, 'b.html'), text: 'b' },
    ])
    await readOutput(join(root, 'missing'), () => {
      throw new Error('no file to visit')
    })
  })
})
