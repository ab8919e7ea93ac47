import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDiskCache } from '../../src/cache/disk-cache.js'
import { createMemoryBacking, createMemoryStore } from './memory-store.js'
import { testStore } from './store-contract.js'

const silent = { info() {}, warn() {}, error() {} }

/** One byte of `bytes` flipped, in the middle. */
function flipped(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes)
  copy[copy.length >> 1] = (copy[copy.length >> 1] ?? 0) ^ 0xff
  return copy
}

/** Metadata whose width is negative: it fails its schema. */
const damaged = (text: string) => JSON.stringify({ ...JSON.parse(text), width: -1 })

testStore('disk', async () => {
  const root = await mkdtemp(join(tmpdir(), 'flux-store-contract-'))
  const dir = join(root, '.flux-cache')
  const open = () => createDiskCache({ dir, logger: silent, staleMs: 60_000 })
  return {
    store: open(),
    another: open,
    async tamper(key, what, { placeholder = false } = {}) {
      const folder = join(dir, placeholder ? 'placeholders' : 'originals')
      const path = join(folder, what === 'image' ? `${key}.png` : `${key}.json`)
      const bytes = await readFile(path)
      await writeFile(path, what === 'image' ? flipped(bytes) : damaged(bytes.toString('utf8')))
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  }
})

testStore('memory (tests)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'flux-store-contract-'))
  const backing = createMemoryBacking(root)
  return {
    store: createMemoryStore(backing),
    another: () => createMemoryStore(backing),
    async tamper(key, what, { placeholder = false } = {}) {
      const name = `${placeholder ? 'placeholders' : 'originals'}/${key}`
      if (what === 'image')
        backing.files.set(`${name}.image`, flipped(backing.files.get(`${name}.image`) as Buffer))
      else backing.files.set(name, damaged(backing.files.get(name) as string))
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  }
})
