// FAQ extraction (src/data/faq.ts) on real excerpts of perlfaq4.pod and Python's faq/general.rst
// (test/fixtures/data/README.md): the expected question/answer pairs, answer boundaries at =head1 /
// =head2 and at section titles, and the pair filter (empty answers dropped, ids numbered per file).

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pairsFromBlocks, perlfaqPairs, pythonFaqPairs } from '../src/data/faq.js';
import type { Block } from '../src/data/debian.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'data');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

describe('perlfaq', () => {
  const pairs = perlfaqPairs(fixture('perlfaq4.excerpt.pod'), 'perlfaq4.pod');

  it('one pair per =head2, in order, with ids and source', () => {
    expect(pairs.map((p) => [p.id, p.question])).toEqual([
      [
        'perlfaq4:1',
        'Why am I getting long decimals (eg, 19.9499999999999) instead of the numbers I should be getting (eg, 19.95)?',
      ],
      ['perlfaq4:2', 'Why is int() broken?'],
      ['perlfaq4:3', 'How do I get a random number between X and Y?'],
      ['perlfaq4:4', 'How do I find the day or week of the year?'],
    ]);
    expect(new Set(pairs.map((p) => p.source))).toEqual(new Set(['perl-doc:perlfaq4.pod']));
  });

  it('answers are the text up to the next =head1/=head2, markup stripped, code kept', () => {
    const [decimals, int, random, day] = pairs;
    expect(
      decimals.answer.startsWith(
        `For the long explanation, see David Goldberg's "What Every Computer Scientist Should Know About Floating-Point Arithmetic" (http://web.cse.msu.edu/~cse320/Documents/FloatingPoint.pdf).`,
      ),
    ).toBe(true);
    expect(decimals.answer).toContain('See Floating-point Arithmetic in perlop for more details.');
    expect(decimals.answer.endsWith('printf "%.2f", 10/3;\nmy $number = sprintf "%.2f", 10/3;')).toBe(true);
    expect(
      int.answer.startsWith(
        "Your int() is most probably working just fine. It's the numbers that aren't quite what you think.",
      ),
    ).toBe(true);
    expect(
      int.answer.endsWith("What you think in the above as 'three' is really more like 2.9999999999999995559."),
    ).toBe(true);
    expect(random.answer).toContain('rand($x) returns a number such that 0 <= rand($x) < $x. Thus');
    // The =head1 "Data: Dates" closes the random-number answer and is in no answer.
    expect(random.answer.endsWith('return $min + int rand(1 + $max - $min); }')).toBe(true);
    expect(pairs.some((p) => p.answer.includes('Data: Dates'))).toBe(false);
    expect(day.answer.startsWith('The day of the year is in the list returned by the localtime function.')).toBe(true);
    for (const p of pairs) expect(p.answer).not.toMatch(/[A-Z]<|=head|=over|=item/);
  });
});

describe('Python FAQ', () => {
  const pairs = pythonFaqPairs(fixture('python-faq-general.excerpt.rst'), 'general.rst.txt');

  it('titles ending in "?" are questions; the page and category titles are not', () => {
    expect(pairs.map((p) => [p.id, p.question])).toEqual([
      ['python-faq:general:1', 'What is Python?'],
      ['python-faq:general:2', 'What is the Python Software Foundation?'],
      ['python-faq:general:3', 'Are there copyright restrictions on the use of Python?'],
    ]);
    expect(pairs[0].source).toBe('python3.11-doc:faq/general.rst');
  });

  it('answers run to the next title, links and roles reduced to text', () => {
    const [python, psf, copyright] = pairs;
    expect(
      python.answer.startsWith('Python is an interpreted, interactive, object-oriented programming language.'),
    ).toBe(true);
    expect(python.answer).toContain("The Beginner's Guide to Python links to other introductory tutorials");
    expect(python.answer).not.toContain('What is the Python Software Foundation');
    expect(
      psf.answer.endsWith('If you use Python and find it helpful, please contribute via the PSF donation page.'),
    ).toBe(true);
    expect(copyright.answer.endsWith('Consult the Trademark Usage Policy for more information.')).toBe(true);
    for (const p of pairs) expect(p.answer).not.toMatch(/`|<https?:|:ref:|\.\. /);
  });
});

describe('pairsFromBlocks', () => {
  it('drops questions with no answer but still counts them in the ids', () => {
    const blocks: Block[] = [
      { kind: 'heading', text: 'Q1?', level: 2 },
      { kind: 'heading', text: 'Q2?', level: 2 },
      { kind: 'para', text: '  an   answer ' },
      { kind: 'heading', text: 'Section', level: 1 },
      { kind: 'para', text: 'not an answer' },
    ];
    const isQ = (b: Block): boolean => b.level === 2;
    const pairs = pairsFromBlocks(blocks, 'f', 'src', isQ, (b) => b.level === 1);
    expect(pairs).toEqual([{ id: 'f:2', question: 'Q2?', answer: 'an answer', source: 'src' }]);
  });
});
