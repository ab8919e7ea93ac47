import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { CacheStatus, OriginalStore } from '../../src/cache/original-store.js'
import { createPickStore } from '../../src/cache/pick-store.js'
import { withPicks } from '../../src/cache/with-picks.js'

/** Every readdir and readFile of a path under `picks/`, counted where the cache calls them. */
const calls = vi.hoisted(() => ({ readdir: [] as string[], readFile: [] as string[] }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>()
  const counted = <F>(list: string[], fn: F): F =>
    ((path: unknown, ...rest: unknown[]) => {
      if (String(path).includes(join('/', 'picks'))) list.push(String(path))
      return (fn as (...args: unknown[]) => unknown)(path, ...rest)
    }) as F
  return {
    ...fs,
    readdir: counted(calls.readdir, fs.readdir),
    readFile: counted(calls.readFile, fs.readFile),
  }
})

const keyOf = (n: number) => n.toString(16).padStart(24, '0')
const N = 200
const PICKED = [7, 50, 199]

/** An original store that touches no file: it records the keys it was asked for. */
function fakeStore(asked: string[]): OriginalStore {
  return {
    get: async (key: string) => {
      asked.push(key)
      return undefined
    },
    check: async (key: string): Promise<CacheStatus> => {
      asked.push(key)
      return 'missing'
    },
  } as unknown as OriginalStore
}

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-picks-'))
  const writer = createPickStore({ dir })
  for (const n of PICKED) await writer.set({ key: keyOf(n), pick: keyOf(1000 + n), candidate: 2 })
  calls.readdir.length = 0
  calls.readFile.length = 0
})
afterEach(() => rm(dir, { recursive: true, force: true }))

describe('picks looked up by a scan', () => {
  it(`of ${N} keys, each checked then read twice: 1 listing of picks/ and 1 read per pick, not ${N} opens`, async () => {
    const asked: string[] = []
    const store = withPicks(fakeStore(asked), createPickStore({ dir }))
    const keys = Array.from({ length: N }, (_, n) => keyOf(n))
    await Promise.all(keys.map((key) => store.check(key)))
    for (let round = 0; round < 2; round++) for (const key of keys) await store.get(key)

    expect({ listings: calls.readdir.length, reads: calls.readFile.length }).toEqual({
      listings: 1,
      reads: 3,
    })
    expect(calls.readdir).toEqual([join(dir, 'picks')])
    expect(calls.readFile.sort()).toEqual(PICKED.map((n) => join(dir, 'picks', `${keyOf(n)}.json`)).sort())
    // A picked key asks for its pick first (missing here, so its own image next).
    expect(asked.filter((key) => key === keyOf(1000 + 7))).toHaveLength(3)
    expect(asked).toHaveLength(3 * (N + PICKED.length))
  })

  it('sees its own set and remove at once, with no second listing and no read', async () => {
    const picks = createPickStore({ dir })
    expect(await picks.get(keyOf(1))).toBeUndefined()
    const record = await picks.set({ key: keyOf(1), pick: keyOf(2), candidate: 3 })
    expect(await picks.get(keyOf(1))).toEqual(record)
    expect(await picks.remove(keyOf(7))).toBe(true)
    expect(await picks.get(keyOf(7))).toBeUndefined()
    expect(calls.readdir).toHaveLength(1)
    expect(calls.readFile).toEqual([])
    expect((await readdir(join(dir, 'picks'))).sort()).toEqual(
      [keyOf(1), keyOf(50), keyOf(199)].map((key) => `${key}.json`),
    )
  })

  it("shows another store's later pick in a store made after it, and list() lists afresh", async () => {
    const before = createPickStore({ dir })
    expect(await before.get(keyOf(3))).toBeUndefined()
    await createPickStore({ dir }).set({ key: keyOf(3), pick: keyOf(4), candidate: 1 })
    expect(await createPickStore({ dir }).get(keyOf(3))).toMatchObject({ key: keyOf(3), pick: keyOf(4) })
    expect((await before.list()).map((r) => r.key)).toEqual([3, 7, 50, 199].map(keyOf))
  })
})
