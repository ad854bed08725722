export {
  MAX_SIGNED_URL_SECONDS,
  PRIVATE_CACHE_CONTROL,
  PUBLIC_CACHE_CONTROL,
  type ObjectStorage,
  type PutObjectOptions,
  type SignedUrlOptions,
  type StoredObject,
} from './object-storage';
export {
  InvalidObjectKeyError,
  MAX_KEY_LENGTH,
  PUBLIC_PREFIX,
  assertObjectKey,
  assertObjectKeyPrefix,
  isPublicKey,
} from './object-key';
export {
  createFilesystemStorage,
  type FilesystemStorage,
  type FilesystemStorageOptions,
} from './filesystem-storage';
export { createFileRoutes, type FileRouteHandler, type FileRoutesOptions } from './file-routes';
export { createS3Storage, type S3StorageOptions } from './s3-storage';
export { MIN_SIGNING_SECRET_LENGTH, type SignedUrlVerdict } from './signed-url';
export { StorageErrorCode } from './error-codes';
export {
  DEFAULT_STORAGE_PUBLIC_URL,
  INSECURE_DEV_STORAGE_SIGNING_SECRET,
  STORAGE_DRIVERS,
  createObjectStorage,
  isFilesystemStorage,
  storageConcern,
  type CreateObjectStorageOptions,
  type StorageConfig,
} from './storage-config';
