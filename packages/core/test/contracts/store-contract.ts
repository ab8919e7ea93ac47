/**
 * What every OriginalStore must honour (the disk store today, a remote object store next), as one
 * suite run by each implementation's test: `testStore(name, make)`, the way unstorage's
 * `testDriver` is.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import sharp from 'sharp'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { OriginalStore } from '../../src/cache/original-store.js'
import { requestKey } from '../../src/cache/request-key.js'
import { FluxError } from '../../src/errors.js'
import type { CanonicalRequest, GeneratedImage } from '../../src/types.js'

export interface StoreUnderTest {
  store: OriginalStore
  /** A second store over the same backing (another process, another machine). */
  another(): OriginalStore
  /** Damages what is stored for `key`: one byte of its image, or its metadata (a negative width). */
  tamper(key: string, what: 'image' | 'metadata', opts?: { placeholder?: boolean }): Promise<void>
  /**
   * The keys whose lease the backing holds now, for stores whose leases outlive a process (objects
   * in a bucket): a lease left behind holds every other machine up until it goes stale.
   */
  leases?(): Promise<string[]>
  cleanup?(): Promise<void>
}

/** A small request, for tests of stores. */
export const request = (prompt: string): CanonicalRequest => ({
  model: 'flux-schnell',
  prompt,
  size: '32x24',
  quality: 'standard',
})

/** A real 32x24 PNG of one colour, as a provider returns it. */
export async function image(color = '#336699'): Promise<GeneratedImage> {
  const bytes = await sharp({ create: { width: 32, height: 24, channels: 3, background: color } })
    .png()
    .toBuffer()
  return { bytes, format: 'png', width: 32, height: 24, created: 1_700_000_000, revisedPrompt: 'revised' }
}

const REAL = { provider: 'contract', placeholder: false }
const LOCAL = { provider: 'placeholder', placeholder: true }
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** Takes the lease of `key` and holds it until `release()`; resolves once it is held. */
async function holdLease(store: OriginalStore, key: string, events: string[]) {
  let release = () => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  let entered = () => {}
  const inside = new Promise<void>((resolve) => {
    entered = resolve
  })
  const done = store.withLock(key, async () => {
    events.push('first in')
    entered()
    await held
    events.push('first out')
  })
  await inside
  return { release, done }
}

export interface StoreContractOptions {
  /**
   * False where stores over the same backing cannot exclude each other (a bucket that ignores
   * conditional writes, as s3rver does: such a store says so and may pay twice); the test of one
   * holder across stores is then skipped, visibly.
   */
  exclusiveAcrossStores?: boolean
  /**
   * What another store over the same backing reports for an entry it has not read yet: `cached`
   * for the disk store (one folder), `remote` for a layered store (in the bucket, not yet local).
   * @default 'cached'
   */
  seenByAnother?: 'cached' | 'remote'
  /**
   * True for a layered store: `remove` removes the local copy only, so what the bucket holds (here
   * a refusal) is still seen afterwards.
   */
  removeIsLocal?: boolean
}

export function testStore(
  name: string,
  make: () => Promise<StoreUnderTest>,
  options: StoreContractOptions = {},
): void {
  describe(`store contract: ${name}`, () => {
    let subject: StoreUnderTest
    let store: OriginalStore
    const a = request('a lighthouse at dawn')
    const b = request('a harbour at night')
    const keyA = requestKey(a)
    const keyB = requestKey(b)

    beforeEach(async () => {
      subject = await make()
      store = subject.store
    })
    afterEach(async () => {
      await subject.cleanup?.()
    })

    describe('an empty store', () => {
      it('has nothing, and says so without creating anything', async () => {
        expect(await store.get(keyA)).toBeUndefined()
        expect(await store.get(keyA, { placeholder: true })).toBeUndefined()
        expect(await store.check(keyA)).toBe('missing')
        expect(await store.refusals.get(keyA)).toBeUndefined()
        expect(await store.list()).toEqual([])
        expect(await store.listPlaceholders()).toEqual([])
        expect(await store.keys()).toEqual([])
        expect(await store.remove(keyA)).toBe(false)
      })

      it('refuses what is not a request key, before touching anything', async () => {
        await expect(store.get('../../etc/passwd')).rejects.toThrow(TypeError)
        await expect(store.check('A'.repeat(24))).rejects.toThrow(TypeError)
        await expect(store.put('x', a, await image(), REAL)).rejects.toThrow(TypeError)
        await expect(store.refusals.put('x', a, 'no')).rejects.toThrow(TypeError)
        expect(await store.keys()).toEqual([])
      })
    })

    describe('originals', () => {
      it('round-trip: the entry read back is the one stored, its file holds the bytes given', async () => {
        const given = await image()
        const stored = await store.put(keyA, a, given, REAL)
        expect(stored.placeholder).toBe(false)
        expect(stored.meta).toMatchObject({
          key: keyA,
          request: a,
          provider: 'contract',
          model: a.model,
          revisedPrompt: 'revised',
          requestedSize: '32x24',
          width: 32,
          height: 24,
          format: 'png',
          bytes: given.bytes.length,
          sha256: sha256(given.bytes),
        })
        expect(await store.get(keyA)).toEqual(stored)
        expect(await readFile(stored.path)).toEqual(given.bytes)
        expect(await store.check(keyA)).toBe('cached')
        expect(await store.list()).toEqual([stored.meta])
        expect(await store.keys()).toEqual([keyA])
      })

      it('keep only the canonical request: nothing else (a key, a URL) reaches the store', async () => {
        const carrying = { ...a, apiKey: 'sk-test-contract-secret', baseURL: 'http://127.0.0.1:9' }
        const stored = await store.put(keyA, carrying as CanonicalRequest, await image(), REAL)
        expect(stored.meta.request).toEqual(a)
        expect(JSON.stringify(await store.list())).not.toContain('sk-test-contract-secret')
      })

      it('are listed in key order, and seen by another store over the same backing', async () => {
        await store.put(keyB, b, await image(), REAL)
        await store.put(keyA, a, await image('#aa0000'), REAL)
        const sorted = [keyA, keyB].sort()
        expect((await store.list()).map((m) => m.key)).toEqual(sorted)
        expect(await store.keys()).toEqual(sorted)
        const other = subject.another()
        expect(await other.check(keyA)).toBe(options.seenByAnother ?? 'cached')
        expect((await other.get(keyA))?.meta.sha256).toBe((await store.get(keyA))?.meta.sha256)
        expect(await other.check(keyA)).toBe('cached')
      })

      it('an image the store cannot describe is refused and leaves no partial entry', async () => {
        const err = await store
          .put(keyA, a, { ...(await image()), format: 'gif' }, REAL)
          .catch((e: unknown) => e)
        expect(FluxError.is(err, 'FLUX_BAD_IMAGE')).toBe(true)
        expect(await store.check(keyA)).toBe('missing')
        expect(await store.keys()).toEqual([])
      })

      it('a replaced image is served with its new metadata', async () => {
        await store.put(keyA, a, await image('#000000'), REAL)
        const second = await image('#ffffff')
        await store.put(keyA, a, { ...second, format: 'png' }, REAL)
        const read = await store.get(keyA)
        expect(read?.meta.sha256).toBe(sha256(second.bytes))
        expect(await readFile(read?.path ?? '')).toEqual(second.bytes)
      })
    })

    describe('integrity: a damaged entry is reported as corrupt and never served', () => {
      it.each(['image', 'metadata'] as const)('its %s damaged', async (what) => {
        await store.put(keyA, a, await image(), REAL)
        await subject.tamper(keyA, what)
        const fresh = subject.another()
        expect(await fresh.get(keyA)).toBeUndefined()
        expect(await fresh.check(keyA)).toBe('corrupt')
        // Storing it again repairs it.
        await fresh.put(keyA, a, await image(), REAL)
        expect(await fresh.check(keyA)).toBe('cached')
      })

      it('a damaged placeholder is not served either', async () => {
        await store.put(keyA, a, await image(), LOCAL)
        await subject.tamper(keyA, 'image', { placeholder: true })
        const fresh = subject.another()
        expect(await fresh.get(keyA, { placeholder: true })).toBeUndefined()
        expect(await fresh.check(keyA)).toBe('missing')
      })
    })

    describe('placeholders', () => {
      it('are kept apart: served only when asked for, never as a real image', async () => {
        const local = await store.put(keyA, a, await image(), LOCAL)
        expect(local.placeholder).toBe(true)
        expect(await store.get(keyA)).toBeUndefined()
        expect(await store.get(keyA, { placeholder: true })).toEqual(local)
        expect(await store.check(keyA)).toBe('placeholder')
        expect(await store.list()).toEqual([])
        expect(await store.listPlaceholders()).toEqual([local.meta])
      })

      it('are replaced by a real image of the same key', async () => {
        await store.put(keyA, a, await image(), LOCAL)
        const real = await store.put(keyA, a, await image('#aa0000'), REAL)
        expect(await store.get(keyA, { placeholder: true })).toEqual(real)
        expect(await store.listPlaceholders()).toEqual([])
        expect(await store.keys()).toEqual([keyA])
      })
    })

    describe('refusals', () => {
      it('are remembered with the canonical request and the message, and forgotten on demand', async () => {
        await store.refusals.put(keyA, { ...a, apiKey: 'sk-x' } as CanonicalRequest, 'flagged')
        const record = await store.refusals.get(keyA)
        expect(record).toMatchObject({ key: keyA, request: a, detail: 'flagged' })
        expect(Number.isFinite(Date.parse(record?.created ?? ''))).toBe(true)
        expect(await store.check(keyA)).toBe('moderated')
        expect(await store.keys()).toEqual([keyA])
        expect(await store.refusals.get(keyB)).toBeUndefined()
        expect(await store.refusals.remove(keyA)).toBe(true)
        expect(await store.refusals.remove(keyA)).toBe(false)
        expect(await store.check(keyA)).toBe('missing')
      })

      it('rank: a real entry over a refusal, a refusal over a placeholder', async () => {
        await store.put(keyA, a, await image(), LOCAL)
        await store.refusals.put(keyA, a, 'flagged')
        expect(await store.check(keyA)).toBe('moderated')
        await store.put(keyA, a, await image(), REAL)
        expect(await store.check(keyA)).toBe('cached')
        // A real image clears the refusal: it was answered after all.
        expect(await store.refusals.get(keyA)).toBeUndefined()
      })
    })

    describe('remove', () => {
      it('removes the original, the placeholder and the refusal of a key, and nothing else', async () => {
        await store.put(keyA, a, await image(), LOCAL)
        await store.refusals.put(keyA, a, 'flagged')
        await store.put(keyB, b, await image(), REAL)
        expect(await store.remove(keyA)).toBe(true)
        expect(await store.keys()).toEqual([keyB])
        expect(await store.check(keyA)).toBe(options.removeIsLocal ? 'moderated' : 'missing')
        expect(await store.remove(keyA)).toBe(false)
        expect(await store.check(keyB)).toBe('cached')
      })
    })

    describe('the lease of a key', () => {
      it.skipIf(options.exclusiveAcrossStores === false)(
        'is held by one holder at a time, across stores over the same backing',
        async () => {
          const events: string[] = []
          const first = await holdLease(store, keyA, events)
          const second = subject.another().withLock(keyA, async () => {
            events.push('second in')
          })
          // Another key is not held up by it.
          await subject.another().withLock(keyB, async () => {
            events.push('other key')
          })
          // Its lease is gone as its work ends; the first's is held.
          if (subject.leases) expect(await subject.leases()).toEqual([keyA])
          first.release()
          await Promise.all([first.done, second])
          expect(events).toEqual(['first in', 'other key', 'first out', 'second in'])
        },
      )

      it('is released when the work throws, which rejects with its error', async () => {
        const boom = new Error('boom')
        await expect(store.withLock(keyA, () => Promise.reject(boom))).rejects.toBe(boom)
        // Gone at once: a lease left behind would hold the next holder up until it went stale.
        if (subject.leases) expect(await subject.leases()).toEqual([])
        await expect(subject.another().withLock(keyA, async () => 'next')).resolves.toBe('next')
        if (subject.leases) expect(await subject.leases()).toEqual([])
      })

      it('a wait ends with the signal’s reason when it aborts, and its work never runs', async () => {
        const first = await holdLease(store, keyA, [])
        const controller = new AbortController()
        let ran = false
        const waiting = subject.another().withLock(
          keyA,
          async () => {
            ran = true
          },
          { signal: controller.signal },
        )
        const reason = new Error('stopped')
        controller.abort(reason)
        await expect(waiting).rejects.toBe(reason)
        first.release()
        await first.done
        expect(ran).toBe(false)
      })
    })
  })
}
