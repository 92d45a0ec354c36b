// The package-description retrieval set: query = a package's short description, document = its long
// description, from Debian bookworm's Translation-en index; binary packages mapped to their source
// package through the Packages index.
//
// Construction (deterministic for the same index files and seed):
// 1. One pair per binary package (the first paragraph when a package appears twice); pairs with an
//    empty long description are dropped. Texts are whitespace-normalised (one line).
// 2. Exact de-duplication of long texts across the whole archive: one document per distinct text,
//    id = the first package (index order) carrying it.
// 3. Near-duplicates: word 3-shingles (lower-cased, digits masked so version numbers do not count)
//    compared by Jaccard similarity. Texts of the SAME source package (-dev/-doc/-data/-bin variants)
//    are all compared pairwise and merged into one document at >= sameSourceJaccard (0.5). Across
//    source packages, candidates come from MinHash LSH (verified exactly): >= familyJaccard (0.6)
//    ties the two source packages into one family; >= crossSourceMergeJaccard (0.8) also merges the
//    texts (e.g. gcc-11 / gcc-12 variants, 0ad / 0ad-data). A merged document keeps the first text.
// 4. Families (source packages joined by shared or near-duplicate texts) are the unit of the split, so
//    no source package and no near-duplicate text (at >= familyJaccard) crosses splits. Families are shuffled with the
//    seed; test takes families until its corpus holds `testDocs` documents, then dev until `devDocs`,
//    train the rest. Families with more than `maxHeldOutFamilyDocs` documents stay in train.
// 5. Queries: every package of a train family. For test and dev, one query per family (the first
//    `testQueries` / `devQueries` families in shuffled order that have one): a package that is its
//    document's id, whose short description is unique in the archive (case-insensitive) and has at
//    least two words. The other documents of those families stay in the corpus as distractors.
//
// Query ids are "q:<package>", document ids "<package>" (BEIR's reference evaluator drops results
// whose document id equals the query id, so the two must differ).
//
// This file builds the data in memory and writes BEIR directories; it does no retrieval.

import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { writeBeir, type DocRow, type Qrels } from './beir.js';
import { mineNegatives, type MineResult } from '../eval/mine.js';
import { APT_LISTS, normalizeSpace, PACKAGES_AMD64, parseDeb822, readAptList, TRANSLATION_EN } from './debian.js';
import { Generator } from '../tensor/random.js';

export interface PkgPair {
  package: string;
  short: string;
  long: string;
}

export type Split = 'train' | 'dev' | 'test';

export interface PkgDoc {
  id: string;
  text: string;
  source: string;
  split: Split;
  /** The family: the first source package of the group of source packages joined by shared or near-duplicate texts. */
  family: string;
  /** Every package whose long description is (a near-duplicate of) this text. */
  packages: string[];
}

export interface PkgQuery {
  id: string;
  text: string;
  package: string;
  docId: string;
  split: Split;
}

export interface PkgdescOptions {
  seed: number;
  testDocs: number;
  testQueries: number;
  devDocs: number;
  devQueries: number;
  /** Jaccard similarity (3-shingle sets) at or above which texts of one source package are merged. */
  sameSourceJaccard: number;
  /** Jaccard similarity at or above which texts of different source packages are merged. */
  crossSourceMergeJaccard: number;
  /** Jaccard similarity at or above which texts of different source packages tie them into one family. */
  familyJaccard: number;
  maxHeldOutFamilyDocs: number;
}

export const DEFAULT_PKGDESC: PkgdescOptions = {
  seed: 20261125,
  testDocs: 5000,
  testQueries: 1000,
  devDocs: 2500,
  devQueries: 500,
  sameSourceJaccard: 0.5,
  crossSourceMergeJaccard: 0.8,
  familyJaccard: 0.6,
  maxHeldOutFamilyDocs: 20,
};

export interface PkgdescStats {
  packages: number;
  pairs: number;
  distinctTexts: number;
  docs: number;
  mergedNearDups: number;
  families: number;
  docsPerSplit: Record<Split, number>;
  queriesPerSplit: Record<Split, number>;
  familiesPerSplit: Record<Split, number>;
}

export interface PkgdescData {
  docs: PkgDoc[];
  queries: PkgQuery[];
  stats: PkgdescStats;
  options: PkgdescOptions;
}

/**
 * Pairs from Translation-en text: `Description-en` is the short description on its first line, then
 * the long description as continuation lines (" ." separates paragraphs).
 */
export function parseTranslations(text: string, label: string): PkgPair[] {
  const pairs: PkgPair[] = [];
  const seen = new Set<string>();
  for (const para of parseDeb822(text, label)) {
    const pkg = para.get('Package');
    const desc = para.get('Description-en');
    if (pkg === undefined) throw new Error(`${label}: paragraph without "Package" (${[...para.keys()].join(', ')})`);
    if (desc === undefined) throw new Error(`${label}: package ${pkg} has no "Description-en"`);
    if (seen.has(pkg)) continue;
    seen.add(pkg);
    const [first, ...rest] = desc.split('\n');
    const long = rest.map((line) => (line.trim() === '.' ? '' : line)).join(' ');
    pairs.push({ package: pkg, short: normalizeSpace(first), long: normalizeSpace(long) });
  }
  return pairs;
}

/** binary package -> source package, from a Packages index ("Source: name (version)" or absent = itself). */
export function parseSources(text: string, label: string): Map<string, string> {
  const sources = new Map<string, string>();
  for (const para of parseDeb822(text, label)) {
    const pkg = para.get('Package');
    if (pkg === undefined) throw new Error(`${label}: paragraph without "Package"`);
    const src = para.get('Source');
    sources.set(pkg, src === undefined ? pkg : src.split(' ')[0]);
  }
  return sources;
}

/** Union-find over dense integer ids; the smallest id of a set is its root (deterministic). */
class Union {
  private parent: Int32Array;
  constructor(n: number) {
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
  }
  find(x: number): number {
    let r = x;
    while (this.parent[r] !== r) r = this.parent[r];
    while (this.parent[x] !== r) {
      const next = this.parent[x];
      this.parent[x] = r;
      x = next;
    }
    return r;
  }
  join(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra < rb) this.parent[rb] = ra;
    else if (rb < ra) this.parent[ra] = rb;
  }
}

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A 32-bit hash of h under a salt (murmur3 finaliser). */
export function mix(h: number, salt: number): number {
  let z = (h ^ salt) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Hashed word 3-shingles of a text (lower-cased, digits masked); a text under 3 words is one shingle. */
export function shingles(text: string): Uint32Array {
  const words =
    text
      .toLowerCase()
      .replace(/[0-9]+/g, '0')
      .match(/[a-z0-9]+/g) ?? [];
  const set = new Set<number>();
  if (words.length < 3) set.add(fnv1a(words.join(' ')));
  for (let i = 0; i + 3 <= words.length; i++) set.add(fnv1a(`${words[i]} ${words[i + 1]} ${words[i + 2]}`));
  return Uint32Array.from([...set].sort((a, b) => a - b));
}

/** Exact Jaccard similarity of two sorted hash sets. */
export function jaccard(a: Uint32Array, b: Uint32Array): number {
  let i = 0;
  let j = 0;
  let inter = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      inter++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  const union = a.length + b.length - inter;
  return union === 0 ? 1 : inter / union;
}

const LSH_BANDS = 20;
const LSH_ROWS = 3;

/**
 * Near-duplicate pairs (i < j) among texts: MinHash signatures in LSH_BANDS bands of LSH_ROWS rows;
 * within each bucket every member is verified against the bucket's first member and its predecessor
 * (linear per bucket; a chain of verified pairs still links the whole bucket through the union-find).
 */
export function nearDuplicatePairs(sets: Uint32Array[], threshold: number): Array<[number, number]> {
  const k = LSH_BANDS * LSH_ROWS;
  const salts = Array.from({ length: k }, (_, i) => mix(i + 1, 0x9e3779b9));
  const buckets = new Map<string, number[]>();
  const sig = new Uint32Array(k);
  sets.forEach((set, doc) => {
    sig.fill(0xffffffff);
    for (const h of set) {
      for (let r = 0; r < k; r++) {
        const v = mix(h, salts[r]);
        if (v < sig[r]) sig[r] = v;
      }
    }
    for (let b = 0; b < LSH_BANDS; b++) {
      const key = `${b}:${Array.from(sig.subarray(b * LSH_ROWS, (b + 1) * LSH_ROWS)).join(',')}`;
      const members = buckets.get(key);
      if (members === undefined) buckets.set(key, [doc]);
      else members.push(doc);
    }
  });
  const seen = new Set<number>();
  const pairs: Array<[number, number]> = [];
  const consider = (a: number, b: number): void => {
    const key = a * sets.length + b;
    if (seen.has(key)) return;
    seen.add(key);
    if (jaccard(sets[a], sets[b]) >= threshold) pairs.push([a, b]);
  };
  for (const members of buckets.values()) {
    for (let m = 1; m < members.length; m++) {
      consider(members[0], members[m]);
      if (m >= 2) consider(members[m - 1], members[m]);
    }
  }
  return pairs.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
}

/** Build documents, queries and the split from pairs and the binary -> source map. */
export function buildPkgdesc(
  allPairs: PkgPair[],
  sources: Map<string, string>,
  options: PkgdescOptions = DEFAULT_PKGDESC,
): PkgdescData {
  const pairs = allPairs.filter((p) => p.long !== '' && p.short !== '');
  const sourceOf = (pkg: string): string => sources.get(pkg) ?? pkg;

  // Exact de-duplication: text -> first pair index carrying it.
  const textIndex = new Map<string, number>();
  const texts: string[] = [];
  const textOfPair = pairs.map((p) => {
    let t = textIndex.get(p.long);
    if (t === undefined) {
      t = texts.length;
      textIndex.set(p.long, t);
      texts.push(p.long);
    }
    return t;
  });
  const firstPairOfText = new Int32Array(texts.length).fill(-1);
  textOfPair.forEach((t, i) => {
    if (firstPairOfText[t] < 0) firstPairOfText[t] = i;
  });
  const textSource = Array.from(firstPairOfText, (i) => sourceOf(pairs[i].package));

  // Source packages as dense ids, joined by shared texts and near-duplicates.
  const sourceIds = new Map<string, number>();
  const sid = (s: string): number => {
    let id = sourceIds.get(s);
    if (id === undefined) {
      id = sourceIds.size;
      sourceIds.set(s, id);
    }
    return id;
  };
  pairs.forEach((p) => sid(sourceOf(p.package)));
  const families = new Union(sourceIds.size);
  pairs.forEach((p, i) => families.join(sid(sourceOf(p.package)), sid(textSource[textOfPair[i]])));

  // Near-duplicates: within a source package every pair is compared; across source packages
  // candidates come from MinHash LSH. Merged texts become one document; linked sources one family.
  const merged = new Union(texts.length);
  const sets = texts.map(shingles);
  const textsOfSource = new Map<string, number[]>();
  textSource.forEach((s, t) => {
    const list = textsOfSource.get(s);
    if (list === undefined) textsOfSource.set(s, [t]);
    else list.push(t);
  });
  for (const list of textsOfSource.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        if (jaccard(sets[list[i]], sets[list[j]]) >= options.sameSourceJaccard) merged.join(list[i], list[j]);
      }
    }
  }
  for (const [a, b] of nearDuplicatePairs(sets, Math.min(options.familyJaccard, options.crossSourceMergeJaccard))) {
    if (textSource[a] === textSource[b]) continue;
    const similarity = jaccard(sets[a], sets[b]);
    if (similarity >= options.familyJaccard) families.join(sid(textSource[a]), sid(textSource[b]));
    if (similarity >= options.crossSourceMergeJaccard) {
      merged.join(a, b);
      families.join(sid(textSource[a]), sid(textSource[b]));
    }
  }

  // Documents: one per merged group, id = package of the group's first text.
  const docOfText = new Int32Array(texts.length);
  const sourceNames = [...sourceIds.keys()]; // dense id -> name (ids follow insertion order)
  const docs: Array<Omit<PkgDoc, 'split' | 'family'> & { family: number }> = [];
  const docIndexOfRoot = new Map<number, number>();
  for (let t = 0; t < texts.length; t++) {
    const root = merged.find(t);
    let d = docIndexOfRoot.get(root);
    if (d === undefined) {
      d = docs.length;
      docIndexOfRoot.set(root, d);
      const pkg = pairs[firstPairOfText[root]].package;
      docs.push({
        id: pkg,
        text: texts[root],
        source: textSource[root],
        packages: [],
        family: families.find(sid(textSource[root])),
      });
    }
    docOfText[t] = d;
  }
  pairs.forEach((p, i) => docs[docOfText[textOfPair[i]]].packages.push(p.package));

  // Families in a deterministic order (by root id = first appearance), then shuffled with the seed.
  const familyDocs = new Map<number, number[]>();
  docs.forEach((d, i) => {
    const list = familyDocs.get(d.family);
    if (list === undefined) familyDocs.set(d.family, [i]);
    else list.push(i);
  });
  const familyOrder = [...familyDocs.keys()].sort((a, b) => a - b);
  const gen = new Generator(options.seed);
  gen.shuffle(familyOrder);

  const splitOfFamily = new Map<number, Split>();
  const docsPerSplit: Record<Split, number> = { train: 0, dev: 0, test: 0 };
  const familiesPerSplit: Record<Split, number> = { train: 0, dev: 0, test: 0 };
  const heldOut: Record<'test' | 'dev', number[]> = { test: [], dev: [] };
  for (const f of familyOrder) {
    const n = familyDocs.get(f)!.length;
    let split: Split = 'train';
    if (n <= options.maxHeldOutFamilyDocs) {
      if (docsPerSplit.test < options.testDocs) split = 'test';
      else if (docsPerSplit.dev < options.devDocs) split = 'dev';
    }
    splitOfFamily.set(f, split);
    docsPerSplit[split] += n;
    familiesPerSplit[split]++;
    if (split !== 'train') heldOut[split].push(f);
  }

  // Queries.
  const shortCount = new Map<string, number>();
  for (const p of pairs) {
    const key = p.short.toLowerCase();
    shortCount.set(key, (shortCount.get(key) ?? 0) + 1);
  }
  const pairOfPackage = new Map(pairs.map((p, i) => [p.package, i]));
  const queries: PkgQuery[] = [];
  const queriesPerSplit: Record<Split, number> = { train: 0, dev: 0, test: 0 };
  const heldOutQuery = new Map<string, Split>();
  for (const split of ['test', 'dev'] as const) {
    const want = split === 'test' ? options.testQueries : options.devQueries;
    for (const f of heldOut[split]) {
      if (queriesPerSplit[split] >= want) break;
      const candidates: string[] = [];
      for (const d of familyDocs.get(f)!) {
        const p = pairs[pairOfPackage.get(docs[d].id)!];
        if (shortCount.get(p.short.toLowerCase()) === 1 && p.short.split(' ').length >= 2) candidates.push(p.package);
      }
      if (candidates.length === 0) continue;
      heldOutQuery.set(candidates[gen.int(candidates.length)], split);
      queriesPerSplit[split]++;
    }
  }
  pairs.forEach((p, i) => {
    const doc = docs[docOfText[textOfPair[i]]];
    const split = splitOfFamily.get(doc.family)!;
    if (split === 'train' || heldOutQuery.get(p.package) === split) {
      queries.push({ id: `q:${p.package}`, text: p.short, package: p.package, docId: doc.id, split });
      if (split === 'train') queriesPerSplit.train++;
    }
  });

  const outDocs: PkgDoc[] = docs.map((d) => ({
    id: d.id,
    text: d.text,
    source: d.source,
    packages: d.packages,
    split: splitOfFamily.get(d.family)!,
    family: sourceNames[d.family],
  }));
  return {
    docs: outDocs,
    queries,
    options,
    stats: {
      packages: allPairs.length,
      pairs: pairs.length,
      distinctTexts: texts.length,
      docs: docs.length,
      mergedNearDups: texts.length - docs.length,
      families: familyDocs.size,
      docsPerSplit,
      queriesPerSplit,
      familiesPerSplit,
    },
  };
}

function qrelsOf(queries: PkgQuery[], split: Split): Qrels {
  const qrels: Qrels = new Map();
  for (const q of queries) if (q.split === split) qrels.set(q.id, new Map([[q.docId, 1]]));
  return qrels;
}

function corpusOf(docs: PkgDoc[], keep: (d: PkgDoc) => boolean): Map<string, DocRow> {
  const corpus = new Map<string, DocRow>();
  for (const d of docs)
    if (keep(d)) corpus.set(d.id, { title: '', text: d.text, source: d.source, family: d.family, split: d.split });
  return corpus;
}

function queriesOf(
  queries: PkgQuery[],
  keep: (q: PkgQuery) => boolean,
): Map<string, { text: string; package: string; split: Split }> {
  const out = new Map<string, { text: string; package: string; split: Split }>();
  for (const q of queries) if (keep(q)) out.set(q.id, { text: q.text, package: q.package, split: q.split });
  return out;
}

export interface PkgdescProvenance {
  translationFile: string;
  packagesFile: string;
  /** Release date line of the index (from the InRelease file), for the record. */
  indexDate: string;
  command: string;
}

function provenanceText(data: PkgdescData, prov: PkgdescProvenance, scope: string): string {
  const s = data.stats;
  const o = data.options;
  return `# Debian package descriptions (${scope})

Query: a binary package's short description; document: its long description.

- Source: Debian bookworm main, \`${prov.translationFile}\` (long descriptions) and \`${prov.packagesFile}\`
  (binary -> source package), index dated ${prov.indexDate}.
- Built with: \`${prov.command}\` (seed ${o.seed}).
- Licence: each description belongs to its package (Debian main: DFSG-free licences; see each
  package's /usr/share/doc/<package>/copyright).

## Construction
1. One pair per binary package (${s.packages} packages; ${s.pairs} with non-empty short and long
   descriptions). Texts are whitespace-normalised.
2. Exact de-duplication of long texts: ${s.distinctTexts} distinct texts.
3. Near-duplicates by Jaccard similarity of lower-cased word 3-shingles (digits masked): texts of one
   source package are merged into one document at >= ${o.sameSourceJaccard}; texts of different source packages
   are merged at >= ${o.crossSourceMergeJaccard} and tie their source packages into one family at >= ${o.familyJaccard}
   (cross-source candidates from MinHash LSH, verified exactly). ${s.mergedNearDups} texts merged, ${s.docs} documents.
4. Split by family (source packages sharing a text or a near-duplicate text), shuffled with the seed:
   test takes families (of at most ${o.maxHeldOutFamilyDocs} documents) until it holds ${o.testDocs} documents, dev until
   ${o.devDocs}, train keeps the rest. No source package is in two splits.
5. Queries: train = every package of a train family. Test / dev = one query per family, from the
   first ${o.testQueries} / ${o.devQueries} families that have a package which is its document's id and whose short
   description is unique in the archive and has at least two words. Relevance: the query's document
   (score 1), exactly one per query.
6. Ids: documents "<package>" (first package carrying the text), queries "q:<package>".

## Counts
| split | families | documents | queries |
|---|---|---|---|
| train | ${s.familiesPerSplit.train} | ${s.docsPerSplit.train} | ${s.queriesPerSplit.train} |
| dev | ${s.familiesPerSplit.dev} | ${s.docsPerSplit.dev} | ${s.queriesPerSplit.dev} |
| test | ${s.familiesPerSplit.test} | ${s.docsPerSplit.test} | ${s.queriesPerSplit.test} |

## Directories
- \`pkgdesc/\`: the whole collection (${s.docs} documents, every query, qrels/train.tsv, dev.tsv, test.tsv);
  each document carries its \`split\` and \`family\`, each query its \`split\`.
- \`pkgdesc-train/\`: only the train split, with \`triples/train.jsonl.gz\`: for every train query, one
  negative drawn (seeded) from its BM25 top ${TRIPLE_DEPTH} over the train documents (src/eval/mine.ts), never a
  document of the query's own family (near-duplicates of the positive would be false negatives).
- \`pkgdesc-dev/\`, \`pkgdesc-test/\`: only that split's documents and queries; rank over these for
  the held-out evaluations (test: BM25 reference on ~5k documents).
`;
}

/** BM25 depth from which training negatives are drawn. */
export const TRIPLE_DEPTH = 100;

/** Train-split triples: BM25 negatives over the train documents, never from the query's own family. */
export function trainTriples(data: PkgdescData): MineResult {
  const train = data.docs.filter((d) => d.split === 'train');
  const familyOf = new Map(train.map((d) => [d.id, d.family]));
  const queries = data.queries.filter((q) => q.split === 'train');
  const familyOfQuery = new Map(queries.map((q) => [q.id, familyOf.get(q.docId)!]));
  return mineNegatives(
    {
      corpus: new Map(train.map((d) => [d.id, { title: '', text: d.text }])),
      queries: new Map(queries.map((q) => [q.id, q.text])),
      qrels: qrelsOf(data.queries, 'train'),
    },
    {
      negatives: TRIPLE_DEPTH,
      seed: data.options.seed,
      exclude: (qid, docid) => familyOf.get(docid) === familyOfQuery.get(qid),
    },
  );
}

/** Write the BEIR directories: `<out>`, `<out>-train` (with triples), `<out>-dev`, `<out>-test`. */
export async function writePkgdesc(out: string, data: PkgdescData, prov: PkgdescProvenance): Promise<string[]> {
  const dirs: string[] = [];
  await writeBeir(out, {
    corpus: corpusOf(data.docs, () => true),
    queries: queriesOf(data.queries, () => true),
    qrels: {
      train: qrelsOf(data.queries, 'train'),
      dev: qrelsOf(data.queries, 'dev'),
      test: qrelsOf(data.queries, 'test'),
    },
    provenance: provenanceText(data, prov, 'whole collection, all splits'),
  });
  dirs.push(out);
  const triples = trainTriples(data);
  await writeBeir(`${out}-train`, {
    corpus: corpusOf(data.docs, (d) => d.split === 'train'),
    queries: queriesOf(data.queries, (q) => q.split === 'train'),
    qrels: { train: qrelsOf(data.queries, 'train') },
    triples: { train: triples.triples },
    provenance: `${provenanceText(data, prov, 'train split only, with BM25 triples')}
## Triples
${triples.triples.length} triples for ${triples.queries} queries (${triples.pairsWithoutNegative} had no candidate left; mean
candidates per query after exclusions: ${triples.meanCandidates.toFixed(1)}).
`,
  });
  dirs.push(`${out}-train`);
  for (const split of ['dev', 'test'] as const) {
    const dir = `${out}-${split}`;
    await writeBeir(dir, {
      corpus: corpusOf(data.docs, (d) => d.split === split),
      queries: queriesOf(data.queries, (q) => q.split === split),
      qrels: { [split]: qrelsOf(data.queries, split) },
      provenance: provenanceText(data, prov, `${split} split only`),
    });
    dirs.push(dir);
  }
  return dirs;
}

/** The "Date:" line of the bookworm InRelease file the index files came from. */
function indexDate(): string {
  const inRelease = `${APT_LISTS}/deb.debian.org_debian_dists_bookworm_InRelease`;
  if (!existsSync(inRelease)) return 'unknown';
  return readFileSync(inRelease, 'utf8').match(/^Date: (.*)$/m)?.[1] ?? 'unknown';
}

/** Read the apt index files, build the set and write `<out>`, `<out>-dev` and `<out>-test`. */
export async function buildPkgdescFromApt(
  out: string,
  options: PkgdescOptions,
  command: string,
): Promise<{ data: PkgdescData; dirs: string[] }> {
  const pairs = parseTranslations(readAptList(TRANSLATION_EN), TRANSLATION_EN);
  const sources = parseSources(readAptList(PACKAGES_AMD64), PACKAGES_AMD64);
  const data = buildPkgdesc(pairs, sources, options);
  const dirs = await writePkgdesc(out, data, {
    translationFile: basename(TRANSLATION_EN),
    packagesFile: basename(PACKAGES_AMD64),
    indexDate: indexDate(),
    command,
  });
  return { data, dirs };
}
