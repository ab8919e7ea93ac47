import { randomUUID } from 'node:crypto'
import { LEASE_PREFIX } from './leases.js'
import type { S3Client } from './s3-client.js'

/** Which conditional writes a store honours; leases are safe only when `supported`. */
export interface ConditionalWriteSupport {
  /** A second create with `If-None-Match: *` of one key was refused. */
  ifNoneMatch: boolean
  /** A write with `If-Match` naming an ETag the object does not have was refused. */
  ifMatch: boolean
  supported: boolean
}

/**
 * Finds out, with four requests on a throw-away key, whether the store honours conditional
 * writes. Some S3-compatible stores (s3rver, older MinIO and Ceph) accept `If-None-Match` and
 * `If-Match` and ignore them: there, two builds would both "win" a lease, so the caller must
 * say so and fall back to "may pay twice" rather than trust leases.
 */
export async function probeConditionalWrites(client: S3Client): Promise<ConditionalWriteSupport> {
  const key = `${LEASE_PREFIX}probe-${randomUUID()}`
  const first = await client.put(key, 'probe', { ifNoneMatch: '*' })
  try {
    const second = await client.put(key, 'probe', { ifNoneMatch: '*' })
    const mismatched = await client.put(key, 'probe', { ifMatch: '"flux-probe-no-such-etag"' })
    const ifNoneMatch = first !== undefined && second === undefined
    const ifMatch = mismatched === undefined
    return { ifNoneMatch, ifMatch, supported: ifNoneMatch && ifMatch }
  } finally {
    await client.delete(key)
  }
}
