import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createReceiptStore } from '../../src/cache/receipt-store.js'
import { FluxError } from '../../src/errors.js'
import type { JobReceipt } from '../../src/types.js'

const KEY = '0123456789abcdef01234567'
const receipt: JobReceipt = {
  id: '7ca76f47-251c-463b-8c6f-8568519edd73',
  pollingUrl: 'https://api.us1.bfl.ai/v1/get_result?id=7ca76f47-251c-463b-8c6f-8568519edd73',
  host: 'api.us1.bfl.ai',
  model: 'flux-2-pro',
  credits: 4.5,
  submitted: '2026-12-07T17:00:00.000Z',
}
let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-receipts-'))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

describe('the receipt store', () => {
  describe('missing', () => {
    it('reads as none, creating nothing', async () => {
      expect(await createReceiptStore({ dir }).get(KEY)).toBeUndefined()
      expect(await readdir(dir)).toEqual([])
    })
  })
  describe('valid', () => {
    it('reads back what was written, in jobs/<key>.json, with no temporary file left', async () => {
      const store = createReceiptStore({ dir })
      await store.put(KEY, 'bfl', receipt)
      expect(await store.get(KEY)).toEqual(receipt)
      expect(await readdir(join(dir, 'jobs'))).toEqual([`${KEY}.json`])
      expect(await readdir(join(dir, 'tmp'))).toEqual([])
      expect(JSON.parse(await readFile(join(dir, 'jobs', `${KEY}.json`), 'utf8'))).toMatchObject({
        version: 1,
        key: KEY,
        provider: 'bfl',
      })
      expect(await store.remove(KEY)).toBe(true)
      expect(await store.get(KEY)).toBeUndefined()
    })
  })
  describe('invalid', () => {
    it.each([
      ['not JSON', '{"id": '],
      [
        'another key’s receipt',
        JSON.stringify({ version: 1, key: 'f'.repeat(24), provider: 'bfl', ...receipt }),
      ],
      [
        'no polling URL',
        JSON.stringify({ version: 1, key: KEY, provider: 'bfl', ...receipt, pollingUrl: '' }),
      ],
    ])('%s: FLUX_CACHE_CORRUPT naming the file (ignoring it could pay twice)', async (_, text) => {
      await mkdir(join(dir, 'jobs'))
      await writeFile(join(dir, 'jobs', `${KEY}.json`), text)
      const err = await createReceiptStore({ dir })
        .get(KEY)
        .catch((e: unknown) => e)
      expect(FluxError.is(err, 'FLUX_CACHE_CORRUPT')).toBe(true)
      expect(String(err)).toContain(join(dir, 'jobs', `${KEY}.json`))
    })
  })
})
