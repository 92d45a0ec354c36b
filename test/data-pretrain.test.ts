// The pretraining corpus (src/data/pretrain.ts, wordnet.ts, the chunker in debian.ts) and the data
// CLI's error paths (src/cli/data.ts). Package trees are laid out in a temp folder from the real
// excerpts in test/fixtures/data (no download): the exclusion rules must keep Perl's perlfaq*.pod,
// Python's faq/ and every dev/test package description out; WordNet lines parse; documents are cut
// into sections by size; a failing build writes nothing.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  buildPretrain,
  countBySource,
  gitDocs,
  isExcludedFromPretrain,
  pkgdescTrainDocs,
  PRETRAIN_SOURCES,
  pythonDocs,
  wordnetDocs,
} from '../src/data/pretrain.js';
import { parseWordnetData, synsetLine, wordnetPairs } from '../src/data/wordnet.js';
import { chunkBlocks, type Block } from '../src/data/debian.js';
import { writeBeir } from '../src/data/beir.js';
import { runDataBuild } from '../src/cli/data.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'data');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'retrograd-data-pretrain-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function put(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

describe('exclusion rules', () => {
  it('python faq/ is excluded, other documentation is not', () => {
    expect(isExcludedFromPretrain('python3.11-doc', 'faq/general.rst.txt')).toBe(true);
    expect(isExcludedFromPretrain('python3.11-doc', 'library/shlex.rst.txt')).toBe(false);
    expect(isExcludedFromPretrain('python3.11-doc', 'howto/faqlike.rst.txt')).toBe(false);
  });

  it('python tree: FAQ files never reach the corpus; perl-doc is no source (every pod is a man page)', () => {
    const py = join(tmp, 'python3.11-doc');
    put(join(py, 'usr/share/doc/python3.11/html/_sources/library/shlex.rst.txt'), fixture('shlex.excerpt.rst'));
    put(
      join(py, 'usr/share/doc/python3.11/html/_sources/faq/general.rst.txt'),
      fixture('python-faq-general.excerpt.rst'),
    );
    const pyDocs = pythonDocs(py);
    expect(new Set(pyDocs.map((d) => d.source))).toEqual(new Set(['python3.11-doc:library/shlex.rst']));
    expect(pyDocs.map((d) => d.text).join('\n')).not.toContain('What is Python');

    expect(PRETRAIN_SOURCES.map((s) => s.pkg)).not.toContain('perl-doc');
    expect(PRETRAIN_SOURCES.map((s) => s.pkg)).not.toContain('debian-faq');
  });

  it('PostgreSQL: SQL command and application reference pages (also man7/man1 pages) are kept out', () => {
    expect(isExcludedFromPretrain('postgresql-doc-15', 'sql-select.html')).toBe(true);
    expect(isExcludedFromPretrain('postgresql-doc-15', 'app-psql.html')).toBe(true);
    expect(isExcludedFromPretrain('postgresql-doc-15', 'tutorial-join.html')).toBe(false);
  });

  it('pkgdesc: only documents marked train; a corpus line without "split" is an error', async () => {
    const dir = join(tmp, 'pkgdesc');
    const corpus = new Map([
      ['a', { title: '', text: 'train  text\tone', split: 'train' }],
      ['b', { title: '', text: 'test text', split: 'test' }],
      ['c', { title: '', text: 'dev text', split: 'dev' }],
    ]);
    await writeBeir(dir, { corpus, queries: new Map(), qrels: {} });
    expect(await pkgdescTrainDocs(dir)).toEqual([{ text: 'train text one', source: 'pkgdesc:a' }]);

    const bad = join(tmp, 'pkgdesc-bad');
    await writeBeir(bad, {
      corpus: new Map([
        ['a', { title: '', text: 't', split: 'train' }],
        ['b', { title: '', text: 'u' }],
      ]),
      queries: new Map(),
      qrels: {},
    });
    await expect(pkgdescTrainDocs(bad)).rejects.toThrow(/corpus\.jsonl\.gz line 2: "split" must be train, dev or test/);
  });
});

describe('git-doc and WordNet', () => {
  it('git guides become prose with short code only; man-page sources and what they include are kept out', () => {
    const git = join(tmp, 'git-doc');
    const doc = (rel: string) => join(git, 'usr/share/doc/git-doc', rel);
    // The same AsciiDoc body once as a guide and once as the man page git-bisect(1).
    const body = fixture('git-bisect.excerpt.txt').replace(/^git-bisect\(1\)\n=+\n/, '');
    put(doc('howto/bisect-guide.txt'), `= Bisecting\n\n${body}`);
    put(doc('git-bisect.txt'), fixture('git-bisect.excerpt.txt') + '\ninclude::config/bisect.txt[]\n');
    put(doc('config/bisect.txt'), 'bisect.option::\n\tincluded into the man page.\n\ninclude::bisect-more.txt[]\n');
    put(doc('config/bisect-more.txt'), 'included twice over.\n');
    put(doc('git-bisect.html'), '<html>not read</html>');
    const docs = gitDocs(git);
    expect(docs.map((d) => d.source)).toEqual(['git-doc:howto/bisect-guide.txt']);
    const text = docs[0].text;
    expect(text).toContain('git-bisect - Use binary search to find the commit that introduced a bug');
    expect(text).toContain('$ git bisect start $ git bisect bad # Current version is bad');
    // The 12-line usage block exceeds the code limit and is dropped.
    expect(text).not.toContain('git bisect replay <logfile>');
  });

  it('parses synsets: words, adjective markers, glosses; skips the licence header', () => {
    const synsets = parseWordnetData(fixture('wordnet-data.adj.excerpt'), 'data.adj');
    expect(synsets).toHaveLength(4);
    expect(synsets[0]).toMatchObject({ offset: '00001740', pos: 'a', words: ['able'] });
    expect(synsetLine(synsets[2])).toBe(
      'abaxial, dorsal: facing away from the axis of an organ or organism; "the abaxial surface of a leaf is the underside or side facing away from the stem"',
    );
    expect(synsets[3].words).toEqual(['outback', 'remote']);
    expect(() => parseWordnetData('00001740 00 a 01 able 0 000\n', 'data.adj')).toThrow(
      'data.adj line 1: no " | " before the gloss',
    );
  });

  it('word -> gloss pairs: one query per distinct lemma list, relevant to every synset with it', () => {
    const synsets = parseWordnetData(fixture('wordnet-data.adj.excerpt'), 'data.adj');
    const twin = { ...synsets[0], offset: '99999999', gloss: 'another sense of able' };
    const { docs, queries, qrels } = wordnetPairs([...synsets, twin]);
    expect(docs.size).toBe(5);
    expect(docs.get('wn:a00002312')).toBe(synsets[2].gloss);
    expect([...queries.values()]).toEqual(['able', 'unable', 'abaxial, dorsal', 'outback, remote']);
    expect([...qrels.get('q:wn:a00001740')!.keys()]).toEqual(['wn:a00001740', 'wn:a99999999']);
  });

  it('wordnetDocs packs synset lines per file', () => {
    const wn = join(tmp, 'wordnet-base');
    for (const f of ['data.noun', 'data.verb', 'data.adj', 'data.adv'])
      put(join(wn, 'usr/share/wordnet', f), fixture('wordnet-data.adj.excerpt'));
    const docs = wordnetDocs(wn);
    expect(docs.map((d) => d.source)).toEqual([
      'wordnet-base:data.noun',
      'wordnet-base:data.verb',
      'wordnet-base:data.adj',
      'wordnet-base:data.adv',
    ]);
    expect(docs[0].text.split('\n')).toHaveLength(4);
    expect(countBySource(docs, new Map([['wordnet-base', '1:3.0-37']]))).toEqual([
      {
        source: 'wordnet-base',
        version: '1:3.0-37',
        licence: expect.stringContaining('WordNet 3.0'),
        docs: 4,
        words: 4 * docs[0].text.split(/\s+/).length,
        tokens: 0,
        exactDups: 0,
        nearDups: 0,
        dupWords: 0,
      },
    ]);
  });
});

describe('chunkBlocks', () => {
  const para = (n: number, w = 'word'): Block => ({ kind: 'para', text: Array(n).fill(w).join(' ') });
  const opts = { minWords: 10, maxWords: 25, maxCodeLines: 2 };

  it('closes a chunk at a heading once it has minWords, and before it would pass maxWords', () => {
    const chunks = chunkBlocks(
      [
        { kind: 'heading', text: 'A', level: 1 },
        para(12),
        { kind: 'heading', text: 'B', level: 1 },
        para(8),
        para(10),
        para(9),
      ],
      opts,
    );
    // [A + 12] closes at heading B; [B + 8 + 10] closes before the 9 would make 28 > 25; the tail of 9
    // stays alone because 19 + 9 > 25.
    expect(chunks.map((c) => c.split(/\s+/).length)).toEqual([13, 19, 9]);
  });

  it('merges a short tail into the previous chunk when it fits', () => {
    const chunks = chunkBlocks([para(12), { kind: 'heading', text: 'H', level: 2 }, para(3)], opts);
    expect(chunks).toEqual([`${Array(12).fill('word').join(' ')}\nH\nword word word`]);
  });

  it('drops code longer than maxCodeLines, keeps short code, skips empty blocks', () => {
    const chunks = chunkBlocks(
      [
        para(5),
        { kind: 'code', text: 'x = 1\ny = 2\nz = 3' },
        { kind: 'code', text: 'ok(  1 )' },
        { kind: 'para', text: '   ' },
      ],
      opts,
    );
    expect(chunks).toEqual([`${Array(5).fill('word').join(' ')}\nok( 1 )`]);
  });
});

describe('data build errors', () => {
  it('an unknown dataset is one clear error', async () => {
    await expect(runDataBuild('nope', { out: join(tmp, 'x') })).rejects.toThrow(
      'unknown dataset "nope" (expected one of: pkgdesc, pretrain, faq, wordnet)',
    );
  });

  it('pretrain without a pkgdesc directory fails before any download and writes nothing', async () => {
    const out = join(tmp, 'pretrain-out');
    await expect(buildPretrain({ out, pkgdesc: join(tmp, 'missing'), command: 'test' })).rejects.toThrow(
      /missing: neither corpus\.jsonl\.gz nor corpus\.jsonl exists/,
    );
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });
});
