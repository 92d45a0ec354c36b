// WordNet 3.0 (Debian's wordnet-base) synsets: the words and gloss of each line of the data.noun,
// data.verb, data.adj and data.adv files, as text lines "word, other word: gloss" for the
// pretraining corpus and as word -> gloss pairs.
//
// Record format (wndb(5WN)): offset lex_filenum ss_type w_cnt(hex) [word lex_id(hex)]... p_cnt
// [pointer...] [frames...] | gloss. Lines starting with two spaces are the licence header.
// This file only parses; it does not download (see pretrain.ts).

export const WORDNET_FILES = ['data.noun', 'data.verb', 'data.adj', 'data.adv'] as const;

export interface Synset {
  offset: string;
  /** n, v, a, s (adjective satellite) or r. */
  pos: string;
  /** Lemmas with underscores as spaces and adjective position markers ("(a)", "(p)", "(ip)") removed. */
  words: string[];
  gloss: string;
}

/** Parse one data.* file; a malformed record is an error naming the file and line. */
export function parseWordnetData(text: string, label: string): Synset[] {
  const synsets: Synset[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '' || line.startsWith('  ')) continue;
    const bar = line.indexOf(' | ');
    if (bar < 0) throw new Error(`${label} line ${i + 1}: no " | " before the gloss`);
    const fields = line.slice(0, bar).split(' ');
    const count = parseInt(fields[3], 16);
    if (!/^\d{8}$/.test(fields[0]) || !Number.isFinite(count) || fields.length < 4 + 2 * count) {
      throw new Error(`${label} line ${i + 1}: malformed synset header ${JSON.stringify(line.slice(0, 40))}`);
    }
    const words: string[] = [];
    for (let w = 0; w < count; w++) {
      words.push(fields[4 + 2 * w].replace(/\((a|p|ip)\)$/, '').replace(/_/g, ' '));
    }
    synsets.push({ offset: fields[0], pos: fields[2], words, gloss: line.slice(bar + 3).trim() });
  }
  return synsets;
}

/** "word, other word: gloss" */
export function synsetLine(s: Synset): string {
  return `${s.words.join(', ')}: ${s.gloss}`;
}
