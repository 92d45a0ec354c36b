// Markup stripping (src/data/markup.ts) on real excerpts of Debian's documentation packages
// (test/fixtures/data/README.md says where each comes from) and on single-construct inputs.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  asciidocInline,
  asciidocToBlocks,
  podInline,
  podToBlocks,
  rstInline,
  rstToBlocks,
} from '../src/data/markup.js';
import type { Block } from '../src/data/debian.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'data');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const texts = (blocks: Block[], kind: Block['kind']): string[] =>
  blocks.filter((b) => b.kind === kind).map((b) => b.text);

describe('reStructuredText', () => {
  it('inline roles, literals, emphasis and links become their text', () => {
    expect(rstInline(':func:`os.path.join` joins')).toBe('os.path.join joins');
    expect(rstInline('the :class:`~shlex.shlex` class')).toBe('the shlex class');
    expect(rstInline('see :ref:`the tutorial <tutorial-index>`')).toBe('see the tutorial');
    expect(rstInline('``None`` and *s* and **only**')).toBe('None and s and only');
    expect(rstInline('`the PSF page <https://www.python.org/psf/>`_.')).toBe('the PSF page.');
    expect(rstInline('a *args parameter')).toBe('a *args parameter');
    expect(rstInline('text [#]_ more')).toBe('text more');
  });

  it('shlex.rst: title, prose and signatures kept; module/author directives dropped; doctest is code', () => {
    const blocks = rstToBlocks(fixture('shlex.excerpt.rst'));
    expect(blocks[0]).toEqual({ kind: 'heading', text: 'shlex --- Simple lexical analysis', level: 1 });
    const paras = texts(blocks, 'para');
    expect(paras).toContain('Source code: Lib/shlex.py');
    expect(paras).toContain('split(s, comments=False, posix=True)');
    expect(paras).toContain('Passing None for s will raise an exception in future Python versions.');
    expect(paras.some((p) => p.startsWith('The shlex class makes it easy'))).toBe(true);
    const all = blocks.map((b) => b.text).join('\n');
    expect(all).not.toMatch(/moduleauthor|sectionauthor|:synopsis:|esr@snark|:mod:|:func:|``/);
    expect(texts(blocks, 'code')).toEqual([
      ">>> from shlex import join\n>>> print(join(['echo', '-n', 'Multiple words']))\necho -n 'Multiple words'",
    ]);
  });

  it('literal blocks after "::" are code and the marker becomes ":"', () => {
    const blocks = rstToBlocks('Like this::\n\n   x = 1\n   y = 2\n\nBack to prose.\n');
    expect(blocks).toEqual([
      { kind: 'para', text: 'Like this:' },
      { kind: 'code', text: 'x = 1\ny = 2' },
      { kind: 'para', text: 'Back to prose.' },
    ]);
  });
});

describe('POD', () => {
  it('formatting codes: nested, double-angle, links, entities, index entries', () => {
    expect(podInline('C<rand($x)> returns C<< 0 <= rand($x) < $x >>')).toBe('rand($x) returns 0 <= rand($x) < $x');
    expect(podInline('see L<perlop/"Floating-point Arithmetic">')).toBe('see Floating-point Arithmetic in perlop');
    expect(podInline('L<the manual|perlfunc> and L<POSIX>')).toBe('the manual and POSIX');
    expect(podInline('B<I<nested>> E<lt>tagE<gt> X<index>word')).toBe('nested <tag> word');
    expect(podInline('(L<http://example.org/a.pdf>)')).toBe('(http://example.org/a.pdf)');
    expect(podInline('unclosed C<< x')).toBe('unclosed C<< x');
  });

  it('perlfaq4 excerpt: headings with levels, prose, verbatim code', () => {
    const blocks = podToBlocks(fixture('perlfaq4.excerpt.pod'));
    const headings = blocks.filter((b) => b.kind === 'heading').map((b) => [b.level, b.text]);
    expect(headings).toEqual([
      [1, 'NAME'],
      [1, 'VERSION'],
      [1, 'DESCRIPTION'],
      [1, 'Data: Numbers'],
      [
        2,
        'Why am I getting long decimals (eg, 19.9499999999999) instead of the numbers I should be getting (eg, 19.95)?',
      ],
      [2, 'Why is int() broken?'],
      [2, 'How do I get a random number between X and Y?'],
      [1, 'Data: Dates'],
      [2, 'How do I find the day or week of the year?'],
    ]);
    expect(texts(blocks, 'code')).toContain('printf "%.2f", 10/3;');
    expect(texts(blocks, 'para')).toContain('perlfaq4 - Data Manipulation');
  });

  it('=begin html regions, =for paragraphs and text after =cut are dropped', () => {
    const pod =
      '=head1 A\n\nkept\n\n=begin html\n\n<p>no</p>\n\n=end html\n\n=for comment nope\n\n=cut\n\nnot pod\n\n=pod\n\nback\n';
    expect(podToBlocks(pod).map((b) => b.text)).toEqual(['A', 'kept', 'back']);
  });
});

describe('AsciiDoc', () => {
  it('inline: linkgit, links, attributes, quotes', () => {
    expect(asciidocInline('see linkgit:git-log[1] and link:howto/x.html[the howto]')).toBe('see git-log and the howto');
    expect(asciidocInline("run `git bisect` with '--no-checkout' and *any* {litdd}foo")).toBe(
      'run git bisect with --no-checkout and any --foo',
    );
    expect(asciidocInline("the project's history")).toBe("the project's history");
  });

  it('git-bisect excerpt: titles, [verse] synopsis and listing blocks as code, prose kept', () => {
    const blocks = asciidocToBlocks(fixture('git-bisect.excerpt.txt'));
    expect(
      blocks
        .filter((b) => b.kind === 'heading')
        .map((b) => b.text)
        .slice(0, 5),
    ).toEqual(['git-bisect(1)', 'NAME', 'SYNOPSIS', 'DESCRIPTION', 'Basic bisect commands: start, bad, good']);
    expect(texts(blocks, 'para')[0]).toBe('git-bisect - Use binary search to find the commit that introduced a bug');
    const code = texts(blocks, 'code');
    expect(code).toContain("'git bisect' <subcommand> <options>");
    expect(code).toContain(
      '$ git bisect start\n$ git bisect bad                 # Current version is bad\n$ git bisect good v2.6.13-rc2    # v2.6.13-rc2 is known to be good',
    );
    expect(texts(blocks, 'para').join(' ')).not.toMatch(/^-{4,}|linkgit:/m);
  });

  it('labeled list terms keep their indented description as prose', () => {
    const blocks = asciidocToBlocks(
      'OPTIONS\n-------\n--no-checkout::\n\tDo not checkout the new working tree.\n\n  $ indented literal\n',
    );
    expect(blocks).toEqual([
      { kind: 'heading', text: 'OPTIONS', level: 2 },
      { kind: 'para', text: '--no-checkout: Do not checkout the new working tree.' },
      { kind: 'code', text: '  $ indented literal' },
    ]);
  });
});
