// Rendering of Vega-Lite specs: to SVG with Vega's headless scenegraph renderer (no browser, no
// canvas, no dependence on installed fonts), and
// SVG to PNG with resvg (@resvg/resvg-js, a Rust rasteriser shipped as a prebuilt Node addon).
// Text is laid out with DejaVu Sans widths (src/plot/text-width.ts): importing this file replaces
// Vega's text-width estimate, process-wide, by that table.
//
// A Vega-Lite or Vega warning is an error here: it means a spec of ours is wrong, and a chart drawn
// from a wrong spec should not be written.
//
// PNG text needs a font file: by default DejaVu Sans from Debian's fonts-dejavu-core (regular, and
// bold for titles when present). Loading fixed font files, never the system's font list, keeps the
// PNG bytes the same on every machine with the same files.

import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { parse, View, logger, Warn, type LoggerInterface } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { isBold, textWidth } from './text-width.js';

export const DEFAULT_FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const DEFAULT_BOLD_FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

interface TextItem {
  text?: unknown;
  fontSize?: number;
  fontWeight?: unknown;
}

/** Width of a text mark item (or of one of its lines), as vega-scenegraph's textMetrics.width. */
function itemTextWidth(item: TextItem, text?: unknown): number {
  const value = text ?? item.text ?? '';
  const lines = Array.isArray(value) ? value : [value];
  const size = item.fontSize ?? 11;
  return Math.max(0, ...lines.map((line) => textWidth(String(line).trim(), size, isBold(item.fontWeight))));
}

// vega's typings omit textMetrics, the documented hook for custom text measurement.
(vega as unknown as { textMetrics: { width: typeof itemTextWidth } }).textMetrics.width = itemTextWidth;

/** A Vega logger that collects warnings and errors instead of printing them. */
function collectingLogger(messages: string[]): LoggerInterface {
  return logger(Warn, undefined, (_method, level, args) => {
    messages.push(`${level} ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')}`);
  });
}

/** Compile a Vega-Lite spec and render it to an SVG document. */
export async function renderSvg(spec: TopLevelSpec, name = 'chart'): Promise<string> {
  const messages: string[] = [];
  const vg = compile(spec, { logger: collectingLogger(messages) }).spec;
  const view = new View(parse(vg), { renderer: 'none', logger: collectingLogger(messages) });
  try {
    const svg = await view.toSVG();
    if (messages.length > 0) throw new Error(`${name}: Vega reported ${messages.join('; ')}`);
    return svg;
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** TrueType/OpenType font files for the text (default: DejaVu Sans, regular and bold). */
  fontFiles?: string[];
  /** Pixels per SVG unit (default 2, for sharp figures in documents). */
  scale?: number;
}

/** The font files a PNG will use; fails with a clear message when the default font is missing. */
export function pngFonts(fontFiles?: string[]): string[] {
  if (fontFiles && fontFiles.length > 0) {
    for (const f of fontFiles) if (!existsSync(f)) throw new Error(`${f}: font file not found`);
    return fontFiles;
  }
  if (!existsSync(DEFAULT_FONT)) {
    throw new Error(
      `${DEFAULT_FONT}: not found; PNG text needs a font (apt-get install fonts-dejavu-core), or pass --font FILE, or --no-png`,
    );
  }
  return existsSync(DEFAULT_BOLD_FONT) ? [DEFAULT_FONT, DEFAULT_BOLD_FONT] : [DEFAULT_FONT];
}

/** Rasterise an SVG document to PNG bytes. */
export function svgToPng(svg: string, o: PngOptions = {}): Uint8Array {
  const fontFiles = pngFonts(o.fontFiles);
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: o.scale ?? 2 },
    font: { fontFiles, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return new Uint8Array(resvg.render().asPng());
}
