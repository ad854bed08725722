import sharp from 'sharp';
import { AppError, ErrorCode } from '@gatehouse/errors';
import { AvatarErrorCode } from './error-codes';

/** Largest accepted upload. Checked before anything looks at the content. */
export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;

/**
 * Most pixels (width × height, as the header declares them) an upload may have: 40 megapixels covers every
 * phone photo that fits in 5 MB, while a decompression bomb (a tiny file declaring 50000 × 50000) is refused
 * before any pixel memory is allocated.
 */
export const AVATAR_MAX_PIXELS = 40_000_000;

/** Thumbnail edge lengths in pixels; every thumbnail is a square. */
export const AVATAR_SIZES = [50, 150, 300] as const;
export type AvatarSize = (typeof AVATAR_SIZES)[number];

/**
 * The stored "original" is the upload re-encoded, scaled down to fit this box if larger: an avatar is never
 * shown bigger, and it bounds storage and encoding time (a 40 MP WebP encode takes seconds).
 */
export const AVATAR_ORIGINAL_MAX_DIMENSION = 2048;

/**
 * Every output is WebP: one format for all inputs, keeps PNG transparency (JPEG would lose it), smaller than
 * JPEG or PNG at the same quality, and shown by every current browser.
 */
export const AVATAR_CONTENT_TYPE = 'image/webp';

/** The upload types we accept, as {@link sniffImageType} reports them. */
export type AvatarInputType = 'image/jpeg' | 'image/png' | 'image/webp';

export interface ProcessedAvatar {
  contentType: typeof AVATAR_CONTENT_TYPE;
  /** Re-encoded, without any metadata, EXIF orientation applied, at most AVATAR_ORIGINAL_MAX_DIMENSION wide/high. */
  original: { body: Buffer; width: number; height: number };
  /** Square, centre-cropped thumbnails of exactly `size` × `size` pixels. */
  thumbnails: Record<AvatarSize, Buffer>;
}

/** A refused upload: `code` BAD_USER_INPUT with `details.reason` one of {@link AvatarErrorCode}. */
export class AvatarError extends AppError {
  declare readonly details: { reason: AvatarErrorCode };

  constructor(reason: AvatarErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.BAD_USER_INPUT, message, { details: { reason }, cause: options.cause });
  }

  get reason(): AvatarErrorCode {
    return this.details.reason;
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The image type by magic bytes alone (never the file name or a client-sent Content-Type): JPEG (`FF D8 FF`),
 * PNG (its 8-byte signature) or WebP (`RIFF` + size + `WEBP`). Anything else, including SVG, HTML, GIF and
 * text, is null.
 */
export function sniffImageType(bytes: Buffer): AvatarInputType | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= PNG_SIGNATURE.length && bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) {
    return 'image/png';
  }
  if (
    bytes.length >= 12 &&
    bytes.toString('latin1', 0, 4) === 'RIFF' &&
    bytes.toString('latin1', 8, 12) === 'WEBP'
  ) {
    return 'image/webp';
  }
  return null;
}

/** What libvips calls each accepted type; its own detection must agree with ours. */
const SHARP_FORMAT: Record<AvatarInputType, string> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
};

const corrupt = (cause?: unknown) =>
  new AvatarError(AvatarErrorCode.AVATAR_CORRUPT, 'The image could not be read; it may be damaged', {
    cause,
  });

const tooManyPixels = () =>
  new AvatarError(
    AvatarErrorCode.AVATAR_TOO_MANY_PIXELS,
    `The image has too many pixels (at most ${AVATAR_MAX_PIXELS / 1_000_000} megapixels)`,
  );

const WEBP_OPTIONS = { quality: 85, effort: 4 } as const;

/**
 * Validates an avatar upload and produces what gets stored: a re-encoded original and square thumbnails.
 *
 * Order matters: size, then magic bytes, then the dimensions declared in the header (read without decoding),
 * and only then the decode, itself capped by `limitInputPixels`. Decoding fails on any libvips error
 * (`failOn: 'error'`), so truncated files are refused rather than padded with grey.
 *
 * Re-encoding from decoded pixels is the security boundary: EXIF (GPS position, camera serial), XMP, ICC and
 * comments are dropped, and so is anything hidden in the file (bytes after the image end, a second format in a
 * polyglot), because only pixels reach the encoder. Animated WebP: the first frame is used.
 *
 * @throws AvatarError with reason AVATAR_TOO_LARGE, AVATAR_TYPE_UNSUPPORTED, AVATAR_TOO_MANY_PIXELS or
 *   AVATAR_CORRUPT.
 */
export async function processAvatar(input: Buffer): Promise<ProcessedAvatar> {
  if (input.length > AVATAR_MAX_BYTES) {
    throw new AvatarError(
      AvatarErrorCode.AVATAR_TOO_LARGE,
      `The image is larger than ${AVATAR_MAX_BYTES / (1024 * 1024)} MB`,
    );
  }
  const type = sniffImageType(input);
  if (!type) {
    throw new AvatarError(
      AvatarErrorCode.AVATAR_TYPE_UNSUPPORTED,
      'Only JPEG, PNG and WebP images are accepted',
    );
  }

  // metadata() parses the header only. The pixel limit is lifted here so an oversized image reports its size
  // (and gets the precise reason) instead of failing inside libvips.
  let header: sharp.Metadata;
  try {
    header = await sharp(input, { limitInputPixels: false, failOn: 'error' }).metadata();
  } catch (error) {
    throw corrupt(error);
  }
  if (header.format !== SHARP_FORMAT[type]) {
    throw new AvatarError(
      AvatarErrorCode.AVATAR_TYPE_UNSUPPORTED,
      'Only JPEG, PNG and WebP images are accepted',
    );
  }
  if (!(header.width > 0 && header.height > 0)) throw corrupt();
  if (header.width * header.height > AVATAR_MAX_PIXELS) throw tooManyPixels();

  // Decode once, oriented, scaled into the original's box and converted to 8-bit sRGB (CMYK JPEGs, 16-bit PNGs),
  // into raw pixels that every output is encoded from.
  let pixels: { data: Buffer; info: sharp.OutputInfo };
  try {
    pixels = await sharp(input, {
      limitInputPixels: AVATAR_MAX_PIXELS,
      failOn: 'error',
      autoOrient: true,
      pages: 1,
    })
      .resize({
        width: AVATAR_ORIGINAL_MAX_DIMENSION,
        height: AVATAR_ORIGINAL_MAX_DIMENSION,
        fit: 'inside',
        withoutEnlargement: true,
      })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    // The header check above makes this unreachable for honest headers; a lying one still stops here.
    if (error instanceof Error && /pixel limit/i.test(error.message)) throw tooManyPixels();
    throw corrupt(error);
  }

  const { width, height, channels } = pixels.info;
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) throw corrupt();
  const fromPixels = () => sharp(pixels.data, { raw: { width, height, channels } });

  const thumbnail = (size: AvatarSize) =>
    fromPixels().resize(size, size, { fit: 'cover', position: 'centre' }).webp(WEBP_OPTIONS).toBuffer();
  const [original, small, medium, large] = await Promise.all([
    fromPixels().webp(WEBP_OPTIONS).toBuffer(),
    thumbnail(50),
    thumbnail(150),
    thumbnail(300),
  ]);
  return {
    contentType: AVATAR_CONTENT_TYPE,
    original: { body: original, width, height },
    thumbnails: { 50: small, 150: medium, 300: large },
  };
}
