// Package descriptions (src/data/pkgdesc.ts): Translation-en / Packages parsing on a real excerpt of
// bookworm's index files (test/fixtures/data/README.md), near-duplicate handling on that excerpt, and
// the split on a synthetic archive of 300 source packages: deterministic for a seed, disjoint by
// source package, no near-duplicate text across splits, held-out queries well formed, and the
// BEIR directories it writes read back with loadBeir.

import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildPkgdesc,
  DEFAULT_PKGDESC,
  jaccard,
  nearDuplicatePairs,
  parseSources,
  parseTranslations,
  shingles,
  writePkgdesc,
  type PkgdescOptions,
  type PkgPair,
} from '../src/data/pkgdesc.js';
import { parseDeb822 } from '../src/data/debian.js';
import { loadBeir, readTriples } from '../src/data/beir.js';
import { Generator } from '../src/tensor/random.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'data');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'retrograd-data-pkgdesc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('index parsing (real excerpt)', () => {
  const pairs = parseTranslations(fixture('Translation-en.excerpt'), 'Translation-en.excerpt');
  const sources = parseSources(fixture('Packages.excerpt'), 'Packages.excerpt');

  it('short description from the first line, long description with " ." paragraph marks removed', () => {
    const ad = pairs.find((p) => p.package === '0ad-data')!;
    expect(ad.short).toBe('Real-time strategy game of ancient warfare (data files)');
    expect(
      ad.long.startsWith(
        '0 A.D. (pronounced "zero ey-dee") is a free, open-source, cross-platform real-time strategy (RTS) game of ancient warfare.',
      ),
    ).toBe(true);
    expect(ad.long.endsWith('game engine. This package contains the main data files required by 0 A.D.')).toBe(true);
    expect(ad.long).not.toMatch(/\s\.\s|\n|\s{2}/);
  });

  it('a package listed several times keeps its first paragraph; an empty long description stays empty', () => {
    const jdk = pairs.filter((p) => p.package === 'default-jdk-doc');
    expect(jdk).toHaveLength(1);
    expect(jdk[0].long.endsWith('openjdk-17-doc for ppc64el.')).toBe(true);
    expect(pairs.find((p) => p.package === 'freeglut3-dev')).toEqual({
      package: 'freeglut3-dev',
      short: 'Tranisitonal package',
      long: '',
    });
    expect(pairs).toHaveLength(13);
  });

  it('Source field: name without version, default the package itself', () => {
    expect(sources.get('0ad')).toBe('0ad');
    expect(sources.get('0ad-data-common')).toBe('0ad-data');
    expect(sources.get('2048-qt')).toBe('2048-qt');
    expect(sources.get('libfribidi-dev')).toBe('fribidi');
  });

  it('near-duplicates: same-source variants merged, cross-source near-copies merged into one family', () => {
    const data = buildPkgdesc(pairs, sources, {
      ...DEFAULT_PKGDESC,
      testDocs: 1,
      testQueries: 1,
      devDocs: 1,
      devQueries: 1,
    });
    const docOf = new Map(data.docs.flatMap((d) => d.packages.map((p) => [p, d.id] as const)));
    expect(docOf.has('freeglut3-dev')).toBe(false);
    // fribidi's three binaries differ by one sentence (Jaccard ~0.54): one document.
    expect(['libfribidi-bin', 'libfribidi-dev', 'libfribidi0'].map((p) => docOf.get(p))).toEqual([
      'libfribidi-bin',
      'libfribidi-bin',
      'libfribidi-bin',
    ]);
    // 0ad (source 0ad) and 0ad-data / 0ad-data-common (source 0ad-data): Jaccard ~0.87, merged.
    expect(['0ad', '0ad-data', '0ad-data-common'].map((p) => docOf.get(p))).toEqual(['0ad', '0ad', '0ad']);
    // acheck / acheck-rules share a paragraph but are below every threshold: separate.
    expect(docOf.get('acheck')).not.toBe(docOf.get('acheck-rules'));
    expect(data.stats).toMatchObject({ packages: 13, pairs: 12, distinctTexts: 12, docs: 8 });
  });

  it('malformed index text fails with the file and line', () => {
    expect(() => parseDeb822('Package: a\n continued\nno colon here\n', 'Packages.x')).toThrow(
      'Packages.x line 3: expected "Field: value"',
    );
    expect(() => parseDeb822(' orphan\n', 'Packages.x')).toThrow(
      'Packages.x line 1: continuation line outside a field',
    );
    expect(() => parseTranslations('Package: a\nDescription-md5: 0\n', 'T.x')).toThrow(
      'T.x: package a has no "Description-en"',
    );
  });
});

describe('near-duplicate detection', () => {
  it('jaccard and shingles: digits masked, case folded', () => {
    const a = shingles('The GNU C compiler, version 11, for the amd64 architecture');
    const b = shingles('the gnu c compiler, version 12, for the AMD64 architecture');
    expect(jaccard(a, b)).toBe(1);
    expect(jaccard(a, shingles('A completely unrelated sentence about ancient warfare games'))).toBe(0);
  });

  it('LSH finds the pairs a brute-force scan finds at Jaccard >= 0.8 (and reports none below the threshold)', () => {
    const gen = new Generator(7);
    const base = Array.from({ length: 40 }, () => randomText(gen, 40));
    const texts = [...base, ...base.slice(0, 20).map((t) => `${t} extra words here`)];
    const sets = texts.map(shingles);
    const brute: Array<[number, number]> = [];
    for (let i = 0; i < sets.length; i++)
      for (let j = i + 1; j < sets.length; j++) if (jaccard(sets[i], sets[j]) >= 0.8) brute.push([i, j]);
    expect(brute).toHaveLength(20);
    expect(nearDuplicatePairs(sets, 0.8)).toEqual(brute);
  });
});

const VOCAB = Array.from({ length: 400 }, (_, i) => `w${i.toString(36)}x`);

function randomText(gen: Generator, words: number): string {
  return Array.from({ length: words }, () => VOCAB[gen.int(VOCAB.length)]).join(' ');
}

/**
 * 300 source packages: each has a main binary and 0-2 variants whose text adds one sentence (same
 * source, merged); every 10th source also has a near-copy in another source package (a fork).
 */
function syntheticArchive(): { pairs: PkgPair[]; sources: Map<string, string> } {
  const gen = new Generator(2024);
  const pairs: PkgPair[] = [];
  const sources = new Map<string, string>();
  for (let s = 0; s < 300; s++) {
    const src = `src${s}`;
    const text = randomText(gen, 30 + gen.int(30));
    const add = (pkg: string, source: string, long: string): void => {
      pairs.push({ package: pkg, short: `${randomText(gen, 4)} ${pkg}`, long });
      sources.set(pkg, source);
    };
    add(`pkg${s}`, src, text);
    const variants = gen.int(3);
    for (let v = 0; v < variants; v++) add(`pkg${s}-v${v}`, src, `${text} This package contains variant ${v} files.`);
    if (s % 10 === 0) add(`fork${s}`, `forksrc${s}`, `${text} Forked.`);
  }
  return { pairs, sources };
}

const SMALL: PkgdescOptions = {
  ...DEFAULT_PKGDESC,
  seed: 11,
  testDocs: 60,
  testQueries: 40,
  devDocs: 30,
  devQueries: 20,
};

describe('split (synthetic archive)', () => {
  const { pairs, sources } = syntheticArchive();
  const data = buildPkgdesc(pairs, sources, SMALL);

  it('is deterministic for a seed and changes with the seed', () => {
    expect(buildPkgdesc(pairs, sources, SMALL)).toEqual(data);
    const other = buildPkgdesc(pairs, sources, { ...SMALL, seed: 12 });
    expect(other.docs.map((d) => d.split)).not.toEqual(data.docs.map((d) => d.split));
  });

  it('merges same-source variants and forks: one document per source family', () => {
    expect(data.stats.docs).toBe(300);
    expect(data.stats.families).toBe(300);
  });

  it('no source package in two splits; every package of a document is in its split', () => {
    const splitOfSource = new Map<string, string>();
    for (const d of data.docs) {
      for (const p of d.packages) {
        const src = sources.get(p)!;
        const seen = splitOfSource.get(src);
        if (seen !== undefined) expect(seen).toBe(d.split);
        splitOfSource.set(src, d.split);
      }
    }
    expect(new Set(splitOfSource.values())).toEqual(new Set(['train', 'dev', 'test']));
  });

  it('no train document is a near-duplicate of a dev or test document', () => {
    const train = data.docs.filter((d) => d.split === 'train').map((d) => shingles(d.text));
    for (const held of data.docs.filter((d) => d.split !== 'train')) {
      const s = shingles(held.text);
      for (const t of train) expect(jaccard(s, t)).toBeLessThan(SMALL.familyJaccard);
    }
  });

  it('held-out sizes and queries: one query per family, unique short text, relevant doc in the same split', () => {
    expect(data.stats.docsPerSplit.test).toBeGreaterThanOrEqual(SMALL.testDocs);
    expect(data.stats.docsPerSplit.dev).toBeGreaterThanOrEqual(SMALL.devDocs);
    expect(data.stats.queriesPerSplit).toMatchObject({ test: 40, dev: 20 });
    const docs = new Map(data.docs.map((d) => [d.id, d]));
    for (const q of data.queries) {
      expect(docs.get(q.docId)!.split).toBe(q.split);
      expect(docs.get(q.docId)!.packages).toContain(q.package);
      expect(q.id).toBe(`q:${q.package}`);
    }
    const heldOut = data.queries.filter((q) => q.split !== 'train');
    expect(heldOut.every((q) => q.package === q.docId)).toBe(true);
    expect(new Set(heldOut.map((q) => q.docId)).size).toBe(heldOut.length);
    const trainQueries = data.queries.filter((q) => q.split === 'train').length;
    const trainPackages = data.docs.filter((d) => d.split === 'train').reduce((n, d) => n + d.packages.length, 0);
    expect(trainQueries).toBe(trainPackages);
  });

  it('writes the whole collection and the dev/test sub-collections in BEIR layout', async () => {
    const out = join(tmp, 'pkgdesc');
    const dirs = await writePkgdesc(out, data, {
      translationFile: 'T',
      packagesFile: 'P',
      indexDate: 'today',
      command: 'test',
    });
    expect(dirs).toEqual([out, `${out}-train`, `${out}-dev`, `${out}-test`]);
    const whole = await loadBeir(out, 'test');
    expect(whole.corpus.size).toBe(300);
    expect(whole.queries.size).toBe(40);
    const test = await loadBeir(`${out}-test`, 'test');
    expect(test.corpus.size).toBe(data.stats.docsPerSplit.test);
    expect([...test.queries.keys()]).toEqual([...whole.queries.keys()]);
    for (const [qid, judged] of test.qrels) {
      expect([...judged.entries()]).toEqual([...whole.qrels.get(qid)!.entries()]);
      for (const docid of judged.keys()) expect(test.corpus.has(docid)).toBe(true);
    }
    const train = await loadBeir(out, 'train');
    expect(train.queries.size).toBe(data.stats.queriesPerSplit.train);
    expect(readFileSync(join(`${out}-test`, 'PROVENANCE.md'), 'utf8')).toContain('test split only');

    // pkgdesc-train: train documents only, one BM25 triple per train query, never a negative of the query's own family
    const trainDir = await loadBeir(`${out}-train`, 'train');
    expect(trainDir.corpus.size).toBe(data.stats.docsPerSplit.train);
    const triples = await readTriples(join(`${out}-train`, 'triples', 'train.jsonl.gz'));
    expect(triples.length).toBeGreaterThan(0);
    const family = new Map(data.docs.map((d) => [d.id, d.family]));
    for (const t of triples) {
      expect(trainDir.corpus.has(t.neg)).toBe(true);
      expect(trainDir.qrels.get(t.qid)!.has(t.pos)).toBe(true);
      expect(family.get(t.neg)).not.toBe(family.get(t.pos));
    }
  });
});
