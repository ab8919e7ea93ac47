export {
  createLeases,
  LEASE_PREFIX,
  type Lease,
  type LeaseOptions,
  type LeaseOutcome,
  type Leases,
} from './leases.js'
export { type ConditionalWriteSupport, probeConditionalWrites } from './probe-conditional-writes.js'
export { createRemoteCache, type RemoteCacheOptions } from './remote-cache.js'
export {
  LEASE_DEFAULTS,
  type RemoteConfig,
  type RemoteCredentials,
  type RemoteOptions,
  resolveRemoteConfig,
} from './remote-config.js'
export {
  createS3Client,
  type ObjectInfo,
  type PutOptions,
  S3_CLIENT_DEFAULTS,
  type S3Client,
  type S3ClientOptions,
  type StoredObject,
} from './s3-client.js'
