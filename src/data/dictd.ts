// dictd dictionaries (Debian's dict-gcide, dict-foldoc, dict-jargon) to one paragraph of prose per
// entry, for the pretraining corpus.
//
// A dictd database is NAME.index, one "headword<TAB>offset<TAB>length" line per headword (offset and
// length in dictd's base-64 digits A-Za-z0-9+/, most significant first, counting bytes of the
// uncompressed data), and NAME.dict.dz, the entries' text compressed with dictzip (a gzip file that
// zlib reads as is). Several headwords can point at one entry; each entry is read once, in file
// order. The database's own header entries (00-database-info, -short, -url, ...) are skipped.
// Entry markup is simplified for reading: {cross references} and <category> tags lose their
// brackets; GCIDE's \pro*nun"ci*a`tion\, its parenthesised respellings ("([a^]k*n[o^]l"[e^]j*ment)",
// "(? or ?)") and its source tags ("[1913 Webster]") are removed.

import { gunzipSync } from 'node:zlib';

export interface DictIndexEntry {
  headword: string;
  offset: number;
  length: number;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** A dictd base-64 number ("BWzxH"): digits of B64, most significant first. */
export function decodeDictNumber(digits: string): number {
  let n = 0;
  for (const c of digits) {
    const d = B64.indexOf(c);
    if (d < 0) throw new Error(`invalid dictd number ${JSON.stringify(digits)}`);
    n = n * 64 + d;
  }
  return n;
}

/** Parse NAME.index; a malformed line is an error naming `label` and the line. */
export function parseDictIndex(text: string, label: string): DictIndexEntry[] {
  const entries: DictIndexEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '') continue;
    const fields = lines[i].split('\t');
    if (fields.length < 3 || !/^[A-Za-z0-9+/]+$/.test(fields[1]) || !/^[A-Za-z0-9+/]+$/.test(fields[2])) {
      throw new Error(
        `${label} line ${i + 1}: expected "headword<TAB>offset<TAB>length", got ${JSON.stringify(lines[i].slice(0, 60))}`,
      );
    }
    entries.push({ headword: fields[0], offset: decodeDictNumber(fields[1]), length: decodeDictNumber(fields[2]) });
  }
  return entries;
}

/** The header entries dictfmt writes (00-database-info, 00databaseshort, ...). */
function isDatabaseHeader(headword: string): boolean {
  return /^00-?database/i.test(headword);
}

/** One entry's text as a paragraph: markup simplified, whitespace collapsed. */
export function dictEntryText(raw: string): string {
  return raw
    .split('\n')
    .filter((line) => !/^\s*\[[^\]]*\]\s*$/.test(line))
    .join('\n')
    .replace(/\\[^\\\n]*\\/g, '')
    .replace(/\s\((?:\?(?: or \?)*|[^()\s]*[[\]"*`][^()\s]*)\)/g, '')
    .replace(/\{([^{}]*)\}/g, '$1')
    .replace(/<([a-z][a-z ,-]*)>/gi, '$1')
    .replace(/\s+([,.;:])/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The entries of a dictd database as paragraphs, in file order: `dict` is the .dict.dz (or plain
 * .dict) file's bytes, `index` the .index text. An index entry pointing past the data is an error.
 */
export function readDictd(dict: Buffer, index: string, label: string): string[] {
  const data = dict[0] === 0x1f && dict[1] === 0x8b ? gunzipSync(dict) : dict;
  const header = new Set<number>();
  const spans = new Map<number, number>();
  for (const e of parseDictIndex(index, `${label}.index`)) {
    if (e.offset + e.length > data.length)
      throw new Error(
        `${label}.index: entry ${JSON.stringify(e.headword)} ends at byte ${e.offset + e.length}, past the data (${data.length} bytes)`,
      );
    if (isDatabaseHeader(e.headword)) header.add(e.offset);
    else spans.set(e.offset, Math.max(e.length, spans.get(e.offset) ?? 0));
  }
  const texts: string[] = [];
  for (const offset of [...spans.keys()].sort((a, b) => a - b)) {
    if (header.has(offset)) continue;
    const text = dictEntryText(data.subarray(offset, offset + spans.get(offset)!).toString('utf8'));
    if (text !== '') texts.push(text);
  }
  return texts;
}
