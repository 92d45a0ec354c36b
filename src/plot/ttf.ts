// Horizontal advance widths of characters in a TrueType font file, read from its head, hhea, hmtx
// and cmap (format 4, the Unicode BMP subtable) tables. Only what src/plot/text-width.ts's table
// of DejaVu Sans widths is generated from and tested against; not a general font parser (no
// kerning, no ligatures, no format 12 cmaps).
//
// Regenerate the table (after a font update):  npx tsx src/plot/ttf.ts > /tmp/widths.txt

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

function tables(font: Buffer, path: string): Map<string, number> {
  const count = font.readUInt16BE(4);
  const offsets = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const record = 12 + 16 * i;
    offsets.set(font.toString('latin1', record, record + 4), font.readUInt32BE(record + 8));
  }
  for (const tag of ['head', 'hhea', 'hmtx', 'cmap'])
    if (!offsets.has(tag)) throw new Error(`${path}: no "${tag}" table`);
  return offsets;
}

/** Glyph index of each code point through the cmap's format 4 subtable (0 when unmapped). */
function glyphIndices(font: Buffer, cmap: number, codePoints: readonly number[], path: string): number[] {
  let sub = -1;
  const count = font.readUInt16BE(cmap + 2);
  for (let i = 0; i < count; i++) {
    const record = cmap + 4 + 8 * i;
    const platform = font.readUInt16BE(record);
    const encoding = font.readUInt16BE(record + 2);
    const offset = cmap + font.readUInt32BE(record + 4);
    if (((platform === 3 && encoding === 1) || platform === 0) && font.readUInt16BE(offset) === 4) sub = offset;
  }
  if (sub < 0) throw new Error(`${path}: no Unicode format 4 cmap subtable`);
  const segments = font.readUInt16BE(sub + 6) / 2;
  const endCodes = sub + 14;
  const startCodes = endCodes + 2 * segments + 2;
  const idDeltas = startCodes + 2 * segments;
  const idRangeOffsets = idDeltas + 2 * segments;
  return codePoints.map((c) => {
    for (let s = 0; s < segments; s++) {
      if (font.readUInt16BE(endCodes + 2 * s) < c) continue;
      const start = font.readUInt16BE(startCodes + 2 * s);
      if (start > c) return 0;
      const delta = font.readInt16BE(idDeltas + 2 * s);
      const rangeOffset = font.readUInt16BE(idRangeOffsets + 2 * s);
      if (rangeOffset === 0) return (c + delta) & 0xffff;
      const glyph = font.readUInt16BE(idRangeOffsets + 2 * s + rangeOffset + 2 * (c - start));
      return glyph === 0 ? 0 : (glyph + delta) & 0xffff;
    }
    return 0;
  });
}

/** Advance width of each code point in units of the em (1 = the font size). */
export function advanceWidths(path: string, codePoints: readonly number[]): number[] {
  const font = readFileSync(path);
  const t = tables(font, path);
  const unitsPerEm = font.readUInt16BE(t.get('head')! + 18);
  const metrics = font.readUInt16BE(t.get('hhea')! + 34);
  const hmtx = t.get('hmtx')!;
  return glyphIndices(font, t.get('cmap')!, codePoints, path).map((glyph) => {
    if (glyph === 0) throw new Error(`${path}: no glyph for a requested character`);
    return font.readUInt16BE(hmtx + 4 * Math.min(glyph, metrics - 1)) / unitsPerEm;
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { MEASURED_CHARS } = await import('./text-width.js');
  const codes = [...MEASURED_CHARS].map((ch) => ch.codePointAt(0)!);
  for (const file of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) {
    const widths = advanceWidths(`/usr/share/fonts/truetype/dejavu/${file}`, codes);
    process.stdout.write(`${file}:\n${widths.map((w) => Math.round(w * 2048)).join(', ')}\n`);
  }
}
