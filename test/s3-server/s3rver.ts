// s3rver (npm), the community's fake S3, on loopback: the client's second server. It keeps
// objects on disk and ignores conditional writes (the probe must notice that).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import S3rver from 's3rver'
import type { Credentials } from './sigv4.js'

export interface RunningS3rver {
  /** `http://127.0.0.1:<port>`: the endpoint, for path-style addressing. */
  url: string
  bucket: string
  region: string
  credentials: Credentials
  close(): Promise<void>
}

/** Starts s3rver on 127.0.0.1, on a free port, with one empty bucket in a temporary folder. */
export async function startS3rver(bucket = 'flux-test'): Promise<RunningS3rver> {
  const directory = await mkdtemp(join(tmpdir(), 'flux-s3rver-'))
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  })
  const { port } = await server.run()
  return {
    url: `http://127.0.0.1:${port}`,
    bucket,
    region: 'us-east-1',
    // s3rver's built-in account: it checks the key id, not (for SigV4) the signature.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async close() {
      await server.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
}
