// Text widths for chart layout, from the advance widths of DejaVu Sans (Debian fonts-dejavu-core
// 2.37), the font the charts name first and the PNGs are drawn with.
//
// Vega lays out titles, legends and axis labels from text widths. Headless, without a canvas, it
// guesses 0.8 em per character, about 40% too wide for this font: long axis titles then push the
// chart down and legends get wide margins. Vega lets a user replace the estimate
// (vega-scenegraph's textMetrics.width, as vl-convert does); this table is that replacement. It is
// committed rather than read from the font file at run time so the SVG layout is the same on every
// machine, font installed or not. Characters outside the table count as 0.6 em; kerning is ignored.
// The widths were read with src/plot/ttf.ts, which test/plot.test.ts checks them against.

/** The characters whose widths are tabulated, in table order. */
export const MEASURED_CHARS = ` !"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_\`abcdefghijklmnopqrstuvwxyz{|}~–−‖·`;

/** Units per em of the tables below. */
export const UNITS_PER_EM = 2048;

export const DEJAVU_SANS = [
  651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303,
  1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540,
  604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690,
  799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298, 1253, 1300,
  1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716, 1024, 1716, 1024, 651,
] as const;

export const DEJAVU_SANS_BOLD = [
  713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425, 1425, 1425, 1425,
  1425, 1425, 1425, 1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561, 1503, 1700, 1399, 1399, 1681, 1714,
  762, 762, 1587, 1305, 2038, 1714, 1741, 1501, 1741, 1577, 1475, 1397, 1663, 1585, 2259, 1579, 1483, 1485, 936, 748,
  936, 1716, 1024, 1024, 1382, 1466, 1214, 1466, 1389, 891, 1466, 1458, 702, 702, 1362, 702, 2134, 1458, 1407, 1466,
  1466, 1010, 1219, 979, 1458, 1335, 1892, 1321, 1335, 1192, 1458, 748, 1458, 1716, 1024, 1716, 1024, 778,
] as const;

const FALLBACK_EM = 0.6;

function indexTable(): Map<string, number> {
  const index = new Map<string, number>();
  [...MEASURED_CHARS].forEach((ch, i) => index.set(ch, i));
  return index;
}

const INDEX = indexTable();

/** Width in pixels of `text` at `fontSize` px, regular or bold. */
export function textWidth(text: string, fontSize: number, bold = false): number {
  const table = bold ? DEJAVU_SANS_BOLD : DEJAVU_SANS;
  let units = 0;
  for (const ch of text) {
    const i = INDEX.get(ch);
    units += i === undefined ? FALLBACK_EM * UNITS_PER_EM : table[i];
  }
  return (units / UNITS_PER_EM) * fontSize;
}

/** Bold in CSS terms: "bold", "bolder" or a numeric weight of 600 and up. */
export function isBold(weight: unknown): boolean {
  if (typeof weight === 'number') return weight >= 600;
  if (typeof weight !== 'string') return false;
  return weight === 'bold' || weight === 'bolder' || Number(weight) >= 600;
}
