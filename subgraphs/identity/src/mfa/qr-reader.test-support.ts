import { inflateSync } from 'node:zlib';

/**
 * A small QR code reader for tests, on node:zlib alone: decodes a PNG (8-bit grey/RGB(A), not interlaced), finds
 * the symbol, samples its modules and decodes them per ISO/IEC 18004 (format information, unmasking, block
 * de-interleaving, a Reed-Solomon syndrome check of every block, numeric/alphanumeric/byte segments). It reads
 * clean, axis-aligned renderings such as `qrcode`'s PNGs, which is what proves a phone could scan ours; it
 * corrects no errors, so any damage makes it throw instead of guessing.
 */

export interface GreyImage {
  width: number;
  height: number;
  /** 0 (black) .. 255 (white), row by row. */
  pixels: Uint8Array;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** Decodes a PNG to grey levels (alpha composited on white). */
export function decodePng(png: Buffer): GreyImage {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    offset += 12 + length;
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const bitDepth = data[8];
      colorType = data[9] ?? -1;
      if (bitDepth !== 8 || CHANNELS[colorType] === undefined || data[12] !== 0) {
        throw new Error(
          `unsupported PNG: bit depth ${bitDepth}, colour type ${colorType}, interlace ${data[12]}`,
        );
      }
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
  }
  const channels = CHANNELS[colorType]!;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const current = new Uint8Array(stride);
  const previous = new Uint8Array(stride);
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const start = y * (stride + 1);
    const filter = raw[start];
    for (let i = 0; i < stride; i++) {
      const x = raw[start + 1 + i]!;
      const a = i >= channels ? current[i - channels]! : 0;
      const b = previous[i]!;
      const c = i >= channels ? previous[i - channels]! : 0;
      let value: number;
      switch (filter) {
        case 0:
          value = x;
          break;
        case 1:
          value = x + a;
          break;
        case 2:
          value = x + b;
          break;
        case 3:
          value = x + ((a + b) >> 1);
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          value = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default:
          throw new Error(`unknown PNG filter ${filter}`);
      }
      current[i] = value & 0xff;
    }
    for (let px = 0; px < width; px++) {
      const base = px * channels;
      const grey =
        channels >= 3
          ? (current[base]! * 299 + current[base + 1]! * 587 + current[base + 2]! * 114) / 1000
          : current[base]!;
      const alpha = channels === 2 ? current[base + 1]! : channels === 4 ? current[base + 3]! : 255;
      pixels[y * width + px] = Math.round((grey * alpha + 255 * (255 - alpha)) / 255);
    }
    previous.set(current);
  }
  return { width, height, pixels };
}

/** Samples the module grid of an upright, unrotated QR symbol: true = dark. */
export function sampleModules(image: GreyImage): boolean[][] {
  const dark = (x: number, y: number) => image.pixels[y * image.width + x]! < 128;
  // The first dark pixel in reading order is the top-left corner of the top-left finder pattern.
  let top = -1;
  let left = -1;
  for (let y = 0; y < image.height && top < 0; y++) {
    for (let x = 0; x < image.width; x++) {
      if (dark(x, y)) {
        top = y;
        left = x;
        break;
      }
    }
  }
  if (top < 0) throw new Error('no QR code in the image');
  // The finder's top edge is 7 modules of dark; the row's last dark pixel ends the top-right finder.
  let run = 0;
  while (left + run < image.width && dark(left + run, top)) run++;
  const moduleSize = run / 7;
  let right = image.width - 1;
  while (!dark(right, top)) right--;
  const size = Math.round((right - left + 1) / moduleSize);
  if ((size - 17) % 4 !== 0 || size < 21) throw new Error(`implausible symbol size ${size}`);
  return Array.from({ length: size }, (_, row) =>
    Array.from({ length: size }, (_, col) =>
      dark(Math.floor(left + (col + 0.5) * moduleSize), Math.floor(top + (row + 0.5) * moduleSize)),
    ),
  );
}

type EcLevel = 'L' | 'M' | 'Q' | 'H';

// ISO/IEC 18004 tables for versions 1-20 (index = version).
const ALIGNMENT_CENTERS: number[][] = [
  [],
  [],
  [6, 18],
  [6, 22],
  [6, 26],
  [6, 30],
  [6, 34],
  [6, 22, 38],
  [6, 24, 42],
  [6, 26, 46],
  [6, 28, 50],
  [6, 30, 54],
  [6, 32, 58],
  [6, 34, 62],
  [6, 26, 46, 66],
  [6, 26, 48, 70],
  [6, 26, 50, 74],
  [6, 30, 54, 78],
  [6, 30, 56, 82],
  [6, 30, 58, 86],
  [6, 34, 62, 90],
];
const EC_CODEWORDS_PER_BLOCK: Record<EcLevel, number[]> = {
  L: [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28],
  M: [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26],
  Q: [0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30],
  H: [0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28],
};
const EC_BLOCKS: Record<EcLevel, number[]> = {
  L: [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8],
  M: [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16],
  Q: [0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20],
  H: [0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25],
};
const EC_LEVEL_BITS: EcLevel[] = ['M', 'L', 'H', 'Q'];
const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

const MASKS: ((row: number, col: number) => boolean)[] = [
  (i, j) => (i + j) % 2 === 0,
  (i) => i % 2 === 0,
  (_i, j) => j % 3 === 0,
  (i, j) => (i + j) % 3 === 0,
  (i, j) => (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0,
  (i, j) => ((i * j) % 2) + ((i * j) % 3) === 0,
  (i, j) => (((i * j) % 2) + ((i * j) % 3)) % 2 === 0,
  (i, j) => (((i + j) % 2) + ((i * j) % 3)) % 2 === 0,
];

/** The masked 15-bit BCH(15,5) format word for 5 data bits. */
function formatWord(data: number): number {
  let remainder = data << 10;
  for (let bit = 14; bit >= 10; bit--) if ((remainder >> bit) & 1) remainder ^= 0x537 << (bit - 10);
  return ((data << 10) | remainder) ^ 0x5412;
}

function popcount(value: number): number {
  let count = 0;
  for (let v = value; v; v &= v - 1) count++;
  return count;
}

// GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1.
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  EXP[i] = x;
  LOG[x] = i;
  x <<= 1;
  if (x & 0x100) x ^= 0x11d;
}
for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
const gfMul = (a: number, b: number) => (a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!);

/** True when every syndrome S_i = block(α^i), i < ecCount, is zero: the block is an intact codeword. */
function reedSolomonIntact(block: readonly number[], ecCount: number): boolean {
  for (let i = 0; i < ecCount; i++) {
    let syndrome = 0;
    for (const value of block) syndrome = gfMul(syndrome, EXP[i]!) ^ value;
    if (syndrome !== 0) return false;
  }
  return true;
}

/** Decodes a sampled module grid (true = dark) to its text. */
export function decodeModules(modules: boolean[][]): { text: string; version: number; ecLevel: EcLevel } {
  const size = modules.length;
  const version = (size - 17) / 4;
  if (!Number.isInteger(version) || version < 1 || version > 20) throw new Error(`unsupported size ${size}`);
  const at = (row: number, col: number) => modules[row]![col]!;

  // Format information next to the top-left finder, most significant bit first.
  const formatPositions: [number, number][] = [
    ...[0, 1, 2, 3, 4, 5, 7, 8].map((col): [number, number] => [8, col]),
    ...[7, 5, 4, 3, 2, 1, 0].map((row): [number, number] => [row, 8]),
  ];
  const read = formatPositions.reduce((bits, [row, col]) => (bits << 1) | (at(row, col) ? 1 : 0), 0);
  let format = -1;
  for (let data = 0; data < 32; data++) {
    if (popcount(formatWord(data) ^ read) <= 3) format = data;
  }
  if (format < 0) throw new Error('unreadable format information');
  const ecLevel = EC_LEVEL_BITS[format >> 3]!;
  const mask = MASKS[format & 7]!;

  // Everything that is not data: finders with separators and format areas, timing, alignment, version info.
  const reserved = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  const reserve = (row0: number, col0: number, rows: number, cols: number) => {
    for (let r = row0; r < row0 + rows; r++) for (let c = col0; c < col0 + cols; c++) reserved[r]![c] = true;
  };
  reserve(0, 0, 9, 9);
  reserve(0, size - 8, 9, 8);
  reserve(size - 8, 0, 8, 9);
  reserve(6, 0, 1, size);
  reserve(0, 6, size, 1);
  const centers = ALIGNMENT_CENTERS[version]!;
  for (const row of centers) {
    for (const col of centers) {
      const inFinder =
        (row === 6 && col === 6) ||
        (row === 6 && col === centers.at(-1)) ||
        (row === centers.at(-1) && col === 6);
      if (!inFinder) reserve(row - 2, col - 2, 5, 5);
    }
  }
  if (version >= 7) {
    reserve(0, size - 11, 6, 3);
    reserve(size - 11, 0, 3, 6);
  }

  // Data bits in the zigzag order, unmasked.
  const bits: number[] = [];
  let upward = true;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let step = 0; step < size; step++) {
      const row = upward ? size - 1 - step : step;
      for (const col of [right, right - 1]) {
        if (reserved[row]![col]) continue;
        bits.push((at(row, col) ? 1 : 0) ^ (mask(row, col) ? 1 : 0));
      }
    }
    upward = !upward;
  }
  const codewords: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) {
    codewords.push(bits.slice(i, i + 8).reduce((byte, bit) => (byte << 1) | bit, 0));
  }

  // De-interleave: data codewords round-robin over the blocks (the longer blocks last), then the EC codewords.
  const blockCount = EC_BLOCKS[ecLevel][version]!;
  const ecCount = EC_CODEWORDS_PER_BLOCK[ecLevel][version]!;
  const shortBlocks = blockCount - (codewords.length % blockCount);
  const shortData = Math.floor(codewords.length / blockCount) - ecCount;
  const blocks = Array.from({ length: blockCount }, (_, b) => ({
    data: [] as number[],
    ec: [] as number[],
    dataLength: shortData + (b < shortBlocks ? 0 : 1),
  }));
  let index = 0;
  for (let i = 0; i <= shortData; i++) {
    for (const block of blocks) if (i < block.dataLength) block.data.push(codewords[index++]!);
  }
  for (let i = 0; i < ecCount; i++) for (const block of blocks) block.ec.push(codewords[index++]!);
  for (const [b, block] of blocks.entries()) {
    if (!reedSolomonIntact([...block.data, ...block.ec], ecCount)) {
      throw new Error(`block ${b} fails the Reed-Solomon check`);
    }
  }

  // Segments.
  const stream = blocks
    .flatMap((block) => block.data)
    .flatMap((byte) => Array.from({ length: 8 }, (_, i) => (byte >> (7 - i)) & 1));
  let position = 0;
  const take = (count: number) => {
    if (position + count > stream.length) throw new Error('segment runs past the data');
    let value = 0;
    for (let i = 0; i < count; i++) value = (value << 1) | stream[position++]!;
    return value;
  };
  const countBits = (mode: number) => {
    const band = version <= 9 ? 0 : version <= 26 ? 1 : 2;
    return { 1: [10, 12, 14], 2: [9, 11, 13], 4: [8, 16, 16] }[mode as 1 | 2 | 4]![band]!;
  };
  const bytes: number[] = [];
  while (stream.length - position >= 4) {
    const mode = take(4);
    if (mode === 0) break;
    if (mode === 7) {
      take(8); // ECI designator: the byte segments stay UTF-8 for our purposes.
      continue;
    }
    if (mode !== 1 && mode !== 2 && mode !== 4) throw new Error(`unsupported segment mode ${mode}`);
    let count = take(countBits(mode));
    if (mode === 4) {
      while (count-- > 0) bytes.push(take(8));
    } else if (mode === 2) {
      for (; count >= 2; count -= 2) {
        const pair = take(11);
        bytes.push(ALPHANUMERIC.charCodeAt(Math.floor(pair / 45)), ALPHANUMERIC.charCodeAt(pair % 45));
      }
      if (count === 1) bytes.push(ALPHANUMERIC.charCodeAt(take(6)));
    } else {
      for (; count >= 3; count -= 3) bytes.push(...Buffer.from(String(take(10)).padStart(3, '0')));
      if (count === 2) bytes.push(...Buffer.from(String(take(7)).padStart(2, '0')));
      if (count === 1) bytes.push(...Buffer.from(String(take(4))));
    }
  }
  return { text: Buffer.from(bytes).toString('utf8'), version, ecLevel };
}

/** Reads the QR code in a PNG (or a `data:image/png;base64,` URL). */
export function readQrCode(png: Buffer | string): { text: string; version: number; ecLevel: EcLevel } {
  const buffer =
    typeof png === 'string' ? Buffer.from(png.replace(/^data:image\/png;base64,/, ''), 'base64') : png;
  return decodeModules(sampleModules(decodePng(buffer)));
}
