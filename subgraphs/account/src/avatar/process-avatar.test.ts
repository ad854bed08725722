import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { AppError } from '@gatehouse/errors';
import { AvatarErrorCode } from './error-codes';
import {
  AVATAR_MAX_BYTES,
  AVATAR_ORIGINAL_MAX_DIMENSION,
  AVATAR_SIZES,
  AvatarError,
  processAvatar,
  sniffImageType,
  type ProcessedAvatar,
} from './process-avatar';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/** A valid PNG whose IHDR declares `width` × `height` RGB pixels, with a tiny IDAT: a decompression bomb. */
function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const solid = (width: number, height: number, background: sharp.Colour, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background } });

async function refusal(input: Buffer): Promise<AvatarError> {
  const error = await processAvatar(input).then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof AvatarError)) throw new Error(`expected an AvatarError, got ${String(error)}`);
  return error;
}

/** Every output of one processed avatar, labelled. */
const outputs = (avatar: ProcessedAvatar): Array<[string, Buffer]> => [
  ['original', avatar.original.body],
  ...AVATAR_SIZES.map((size): [string, Buffer] => [`thumbnail ${size}`, avatar.thumbnails[size]]),
];

/** The pixel at (x, y), as RGBA. */
async function pixelAt(image: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(image).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const offset = (y * info.width + x) * 4;
  return [...data.subarray(offset, offset + 4)];
}

const firstPixel = (image: Buffer) => pixelAt(image, 0, 0);

async function expectCleanWebpOutputs(avatar: ProcessedAvatar): Promise<void> {
  expect(avatar.contentType).toBe('image/webp');
  for (const [label, body] of outputs(avatar)) {
    const metadata = await sharp(body).metadata();
    expect({ label, format: metadata.format }).toEqual({ label, format: 'webp' });
    expect({ label, exif: metadata.exif, xmp: metadata.xmp, icc: metadata.icc, iptc: metadata.iptc }).toEqual(
      {
        label,
        exif: undefined,
        xmp: undefined,
        icc: undefined,
        iptc: undefined,
      },
    );
  }
  for (const size of AVATAR_SIZES) {
    const metadata = await sharp(avatar.thumbnails[size]).metadata();
    expect({ size, width: metadata.width, height: metadata.height }).toEqual({
      size,
      width: size,
      height: size,
    });
  }
}

describe('sniffImageType', () => {
  it('recognises JPEG, PNG and WebP by their magic bytes', async () => {
    const image = solid(4, 4, '#123456');
    expect(sniffImageType(await image.clone().jpeg().toBuffer())).toBe('image/jpeg');
    expect(sniffImageType(await image.clone().png().toBuffer())).toBe('image/png');
    expect(sniffImageType(await image.clone().webp().toBuffer())).toBe('image/webp');
  });

  it('knows nothing else, whatever a file claims to be', async () => {
    const others = [
      Buffer.alloc(0),
      Buffer.from([0xff, 0xd8]),
      PNG_SIGNATURE.subarray(0, 7),
      Buffer.from('just text, uploaded as avatar.png'),
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
      Buffer.from('<!DOCTYPE html><html><script>alert(1)</script></html>'),
      Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1'),
      await solid(4, 4, '#123456').gif().toBuffer(),
      await solid(4, 4, '#123456').tiff().toBuffer(),
    ];
    for (const bytes of others) expect(sniffImageType(bytes)).toBeNull();
  });
});

describe('processAvatar', () => {
  it('re-encodes a JPEG to a WebP original and square thumbnails of exact sizes', async () => {
    const avatar = await processAvatar(await solid(640, 480, '#3366cc').jpeg().toBuffer());
    expect(avatar.original).toMatchObject({ width: 640, height: 480 });
    const original = await sharp(avatar.original.body).metadata();
    expect([original.width, original.height]).toEqual([640, 480]);
    await expectCleanWebpOutputs(avatar);
  });

  it('accepts a PNG and keeps its transparency', async () => {
    const avatar = await processAvatar(
      await solid(120, 200, { r: 255, g: 0, b: 0, alpha: 0.5 }, 4).png().toBuffer(),
    );
    expect(avatar.original).toMatchObject({ width: 120, height: 200 });
    await expectCleanWebpOutputs(avatar);
    for (const [, body] of outputs(avatar)) {
      const [r, g, b, alpha] = await firstPixel(body);
      expect(r).toBeGreaterThan(200);
      expect(g! + b!).toBeLessThan(40);
      expect(alpha).toBeGreaterThan(100);
      expect(alpha).toBeLessThan(156);
    }
  });

  it('accepts a WebP, and enlarges a small image to the thumbnail sizes', async () => {
    const avatar = await processAvatar(await solid(32, 32, '#00ff00').webp().toBuffer());
    expect(avatar.original).toMatchObject({ width: 32, height: 32 });
    await expectCleanWebpOutputs(avatar);
  });

  it('converts CMYK JPEGs and 16-bit PNGs to ordinary sRGB', async () => {
    const cmyk = await processAvatar(await solid(60, 60, '#ff0000').toColourspace('cmyk').jpeg().toBuffer());
    const [r, g, b] = await firstPixel(cmyk.thumbnails[50]);
    expect(r).toBeGreaterThan(180);
    expect(g! + b!).toBeLessThan(60);
    const deep = await processAvatar(await solid(60, 60, '#0000ff').toColourspace('rgb16').png().toBuffer());
    const [r2, g2, b2] = await firstPixel(deep.original.body);
    expect([r2! < 20, g2! < 20, b2! > 235]).toEqual([true, true, true]);
  });

  it('scales a large original down into its box, keeping the aspect ratio', async () => {
    const avatar = await processAvatar(await solid(3000, 1500, '#888888').jpeg().toBuffer());
    expect(avatar.original).toMatchObject({ width: AVATAR_ORIGINAL_MAX_DIMENSION, height: 1024 });
  });

  it('crops thumbnails to the centre of the image', async () => {
    // Left third red, middle third green, right third blue: a centre crop of a 3:1 image is all green.
    const stripes = Buffer.alloc(300 * 100 * 3);
    for (let y = 0; y < 100; y += 1) {
      for (let x = 0; x < 300; x += 1) {
        stripes[(y * 300 + x) * 3 + Math.floor(x / 100)] = 255;
      }
    }
    const input = await sharp(stripes, { raw: { width: 300, height: 100, channels: 3 } })
      .png()
      .toBuffer();
    const avatar = await processAvatar(input);
    // Away from the crop edges (resampling blends the neighbouring stripe in there).
    for (const x of [15, 75, 135]) {
      const [r, g, b] = await pixelAt(avatar.thumbnails[150], x, 75);
      expect({ x, green: g! > 200 && r! + b! < 60 }).toEqual({ x, green: true });
    }
  });

  it('strips EXIF (GPS, copyright) and XMP, after applying the EXIF orientation', async () => {
    const input = await solid(40, 20, '#ff8800')
      .jpeg()
      .withExif({
        IFD0: { Copyright: 'exif-secret-owner' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSMapDatum: 'gps-secret-datum' },
      })
      .withMetadata({ orientation: 6 })
      .withXmp(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
          '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>xmp-secret-creator</dc:creator>' +
          '</rdf:Description></rdf:RDF></x:xmpmeta>',
      )
      .toBuffer();
    const before = await sharp(input).metadata();
    expect(before.orientation).toBe(6);
    expect(before.exif).toBeDefined();
    expect(before.xmp).toBeDefined();
    for (const secret of ['exif-secret-owner', 'gps-secret-datum', 'xmp-secret-creator', 'Exif']) {
      expect(input.includes(secret)).toBe(true);
    }

    const avatar = await processAvatar(input);
    // Orientation 6 means "rotate 90° clockwise to display": 40 × 20 becomes 20 × 40.
    expect(avatar.original).toMatchObject({ width: 20, height: 40 });
    await expectCleanWebpOutputs(avatar);
    for (const [label, body] of outputs(avatar)) {
      for (const secret of [
        'exif-secret-owner',
        'gps-secret-datum',
        'xmp-secret-creator',
        'Exif',
        'EXIF',
        'XMP',
      ]) {
        expect({ label, secret, found: body.includes(secret) }).toEqual({ label, secret, found: false });
      }
    }
  });

  it('drops bytes appended after the image end (polyglots)', async () => {
    const payload = Buffer.from(
      '<script>alert("polyglot-payload")</script>PK\x03\x04 polyglot-zip',
      'latin1',
    );
    for (const image of [
      await solid(64, 64, '#abcdef').png().toBuffer(),
      await solid(64, 64, '#abcdef').jpeg().toBuffer(),
    ]) {
      const avatar = await processAvatar(Buffer.concat([image, payload]));
      for (const [label, body] of outputs(avatar)) {
        expect({ label, found: body.includes('polyglot') }).toEqual({ label, found: false });
      }
    }
  });

  it('uses only the first frame of an animated WebP', async () => {
    // Three 30 × 30 frames stacked vertically: red, green, blue.
    const frames = Buffer.alloc(30 * 90 * 3);
    for (let i = 0; i < 30 * 90; i += 1) frames[i * 3 + Math.floor(i / (30 * 30))] = 255;
    const animated = await sharp(frames, { raw: { width: 30, height: 90, channels: 3, pageHeight: 30 } })
      .webp({ loop: 0, delay: [100, 100, 100] })
      .toBuffer();
    expect((await sharp(animated).metadata()).pages).toBe(3);

    const avatar = await processAvatar(animated);
    expect(avatar.original).toMatchObject({ width: 30, height: 30 });
    for (const [label, body] of outputs(avatar)) {
      const metadata = await sharp(body).metadata();
      expect({ label, pages: metadata.pages ?? 1 }).toEqual({ label, pages: 1 });
      const [r, g, b] = await firstPixel(body);
      expect({ label, red: r! > 200 && g! < 40 && b! < 40 }).toEqual({ label, red: true });
    }
  });

  describe('refusals', () => {
    it('refuses a file over 5 MB before looking at its content', async () => {
      const oversized = Buffer.concat([
        PNG_SIGNATURE,
        Buffer.alloc(AVATAR_MAX_BYTES + 1 - PNG_SIGNATURE.length),
      ]);
      const error = await refusal(oversized);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({
        code: 'BAD_USER_INPUT',
        details: { reason: AvatarErrorCode.AVATAR_TOO_LARGE },
        reason: AvatarErrorCode.AVATAR_TOO_LARGE,
        message: 'The image is larger than 5 MB',
      });
      // One byte less is judged on its content (here: not a decodable image).
      expect((await refusal(oversized.subarray(0, AVATAR_MAX_BYTES))).reason).toBe(
        AvatarErrorCode.AVATAR_CORRUPT,
      );
    });

    it('refuses text, SVG, HTML and GIF whatever their name', async () => {
      const inputs = [
        Buffer.from('this is not a picture, even though it was uploaded as me.png'),
        Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        Buffer.from('<html><body onload="alert(1)"></body></html>'),
        await solid(8, 8, '#ffffff').gif().toBuffer(),
        Buffer.alloc(0),
      ];
      for (const input of inputs) {
        expect((await refusal(input)).reason).toBe(AvatarErrorCode.AVATAR_TYPE_UNSUPPORTED);
      }
    });

    it('refuses a decompression bomb from its header, without decoding it', async () => {
      const bomb = pngDeclaring(50_000, 50_000);
      expect(bomb.length).toBeLessThan(200);
      // The crafted file is a well-formed PNG: libvips reads its header.
      expect(await sharp(bomb, { limitInputPixels: false }).metadata()).toMatchObject({
        width: 50_000,
        height: 50_000,
      });
      const rssBefore = process.memoryUsage().rss;
      const error = await refusal(bomb);
      expect(error.reason).toBe(AvatarErrorCode.AVATAR_TOO_MANY_PIXELS);
      expect(error.message).toBe('The image has too many pixels (at most 40 megapixels)');
      // Decoding would need 7.5 GB; allow generous noise, far below even one row-band of the image.
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);
    });

    it('refuses a real image just over the pixel limit', async () => {
      const large = await solid(8000, 5001, '#000000').jpeg({ quality: 10 }).toBuffer();
      expect(large.length).toBeLessThan(AVATAR_MAX_BYTES);
      expect((await refusal(large)).reason).toBe(AvatarErrorCode.AVATAR_TOO_MANY_PIXELS);
    });

    it('refuses truncated and damaged images as corrupt', async () => {
      const png = await solid(200, 200, '#00ff00').png({ compressionLevel: 0 }).toBuffer();
      const jpeg = await solid(200, 200, '#00ff00').jpeg().toBuffer();
      const inputs = [
        png.subarray(0, Math.floor(png.length / 2)),
        jpeg.subarray(0, Math.floor(jpeg.length / 2)),
        Buffer.concat([PNG_SIGNATURE, Buffer.from('garbage after a valid signature')]),
        Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('<html>not a jpeg</html>')]),
        Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 garbage', 'latin1'),
        pngDeclaring(100, 100),
      ];
      for (const [index, input] of inputs.entries()) {
        const error = await refusal(input);
        expect({ index, reason: error.reason }).toEqual({ index, reason: AvatarErrorCode.AVATAR_CORRUPT });
        expect(error.message).toBe('The image could not be read; it may be damaged');
      }
    });
  });
});
