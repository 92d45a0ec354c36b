// The FAQ retrieval set (out-of-domain test): question -> answer pairs from Perl's perlfaq1-9 (POD,
// perl-doc) and Python's FAQ (reST, python3.11-doc html/_sources/faq). Every pair is in the test
// split; the corpus is the answers, one relevant answer per question.
//
//   perlfaq:  each =head2 is a question; its answer is everything up to the next =head1 or =head2
//             (=head3/=head4 inside an answer stay in it as text).
//   Python:   each section title ending in "?" is a question; its answer is everything up to the
//             next section title of any level.
// Markup is stripped by markup.ts; answers keep their code blocks (they are part of the answer), all
// whitespace-normalised. Questions with an empty answer are dropped.
// Ids: documents "perlfaq4:12" / "python-faq:design:3" (source file and question number within
// it), queries "q:" + the document id. Both files come from Debian packages downloaded by the CLI.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBeir, type DocRow, type Qrels } from './beir.js';
import { downloadAndUnpack, makeTempDir, normalizeSpace, removeDir, type Block } from './debian.js';
import { podToBlocks, rstToBlocks } from './markup.js';

export interface FaqPair {
  id: string;
  question: string;
  answer: string;
  /** e.g. "perl-doc:perlfaq4.pod" */
  source: string;
}

export const FAQ_PACKAGES = ['perl-doc', 'python3.11-doc'] as const;

/**
 * Question/answer pairs from a document's blocks. `isQuestion` picks the headings that open a
 * question; `ends` the headings that close an answer. Answers are the blocks between, one per line.
 */
export function pairsFromBlocks(
  blocks: Block[],
  idPrefix: string,
  source: string,
  isQuestion: (b: Block) => boolean,
  ends: (b: Block) => boolean,
): FaqPair[] {
  const pairs: FaqPair[] = [];
  let question: string | null = null;
  let answer: string[] = [];
  let n = 0;
  const close = (): void => {
    if (question !== null) {
      n++;
      const text = answer
        .map(normalizeSpace)
        .filter((t) => t !== '')
        .join('\n');
      if (text !== '') pairs.push({ id: `${idPrefix}:${n}`, question: normalizeSpace(question), answer: text, source });
    }
    question = null;
    answer = [];
  };
  for (const b of blocks) {
    if (b.kind === 'heading' && (isQuestion(b) || ends(b))) {
      close();
      if (isQuestion(b)) question = b.text;
      continue;
    }
    if (question !== null) answer.push(b.text);
  }
  close();
  return pairs;
}

/** perlfaqN.pod: =head2 questions, answers up to the next =head1/=head2. */
export function perlfaqPairs(pod: string, file: string): FaqPair[] {
  const stem = file.replace(/\.pod$/, '');
  const isHead12 = (b: Block): boolean => b.kind === 'heading' && (b.level === 1 || b.level === 2);
  return pairsFromBlocks(
    podToBlocks(pod),
    stem,
    `perl-doc:${file}`,
    (b) => b.kind === 'heading' && b.level === 2,
    isHead12,
  );
}

/** A Python FAQ reST file: titles ending in "?" are questions, answers up to the next title. */
export function pythonFaqPairs(rst: string, file: string): FaqPair[] {
  const stem = file.replace(/\.rst(\.txt)?$/, '');
  const isTitle = (b: Block): boolean => b.kind === 'heading' && b.level !== undefined && b.level < 9;
  return pairsFromBlocks(
    rstToBlocks(rst),
    `python-faq:${stem}`,
    `python3.11-doc:faq/${file.replace(/\.txt$/, '')}`,
    (b) => isTitle(b) && b.text.trim().endsWith('?'),
    isTitle,
  );
}

/** Every pair from the unpacked perl-doc and python3.11-doc trees, in file order. */
export function faqPairs(perlRoot: string, pythonRoot: string): FaqPair[] {
  const parent = join(perlRoot, 'usr/share/perl');
  const versions = existsSync(parent)
    ? readdirSync(parent)
        .filter((v) => existsSync(join(parent, v, 'pod')))
        .sort()
    : [];
  if (versions.length !== 1)
    throw new Error(`perl-doc: expected one usr/share/perl/<version>/pod folder, found ${versions.length}`);
  const podDir = join(parent, versions[0], 'pod');
  const perlFiles = readdirSync(podDir)
    .filter((f) => /^perlfaq[1-9]\.pod$/.test(f))
    .sort();
  if (perlFiles.length !== 9)
    throw new Error(`perl-doc: expected perlfaq1-9.pod in ${podDir}, found ${perlFiles.length}`);
  const faqDir = join(pythonRoot, 'usr/share/doc/python3.11/html/_sources/faq');
  if (!existsSync(faqDir)) throw new Error(`python3.11-doc: ${faqDir} does not exist`);
  const pyFiles = readdirSync(faqDir)
    .filter((f) => f.endsWith('.rst.txt'))
    .sort();
  return [
    ...perlFiles.flatMap((f) => perlfaqPairs(readFileSync(join(podDir, f), 'utf8'), f)),
    ...pyFiles.flatMap((f) => pythonFaqPairs(readFileSync(join(faqDir, f), 'utf8'), f)),
  ];
}

function provenance(pairs: FaqPair[], versions: Map<string, string>, command: string): string {
  const perl = pairs.filter((p) => p.source.startsWith('perl-doc:')).length;
  const python = pairs.length - perl;
  return `# FAQ question -> answer (out-of-domain test set)

- perl-doc ${versions.get('perl-doc')}: perlfaq1-9.pod, each =head2 a question, the answer up to the next
  =head1/=head2: ${perl} pairs. Licence: GPL-1+ or Artistic (Perl); /usr/share/doc/perl-doc/copyright.
- python3.11-doc ${versions.get('python3.11-doc')}: html/_sources/faq/*.rst.txt, each section title ending in "?"
  a question, the answer up to the next title: ${python} pairs. Licence: PSF License Agreement;
  /usr/share/doc/python3.11-doc/copyright.
- Markup stripped to text (src/data/markup.ts), code kept, whitespace normalised; empty answers dropped.
- All ${pairs.length} pairs are in qrels/test.tsv (one relevant answer per question, score 1). The corpus is
  the ${pairs.length} answers. These files are excluded from the pretraining corpus.
- Built with: \`${command}\` (apt-get download + dpkg-deb -x).
`;
}

/** Download perl-doc and python3.11-doc, extract the pairs and write a BEIR directory. */
export async function buildFaq(out: string, command: string): Promise<FaqPair[]> {
  const work = makeTempDir('faq');
  let pairs: FaqPair[];
  let versions: Map<string, string>;
  try {
    const unpacked = downloadAndUnpack([...FAQ_PACKAGES], work);
    versions = new Map([...unpacked.values()].map((p) => [p.name, p.version]));
    pairs = faqPairs(unpacked.get('perl-doc')!.root, unpacked.get('python3.11-doc')!.root);
  } finally {
    removeDir(work);
  }
  const corpus = new Map<string, DocRow>();
  const queries = new Map<string, { text: string; source: string }>();
  const qrels: Qrels = new Map();
  for (const p of pairs) {
    corpus.set(p.id, { title: '', text: p.answer, source: p.source });
    queries.set(`q:${p.id}`, { text: p.question, source: p.source });
    qrels.set(`q:${p.id}`, new Map([[p.id, 1]]));
  }
  await writeBeir(out, { corpus, queries, qrels: { test: qrels }, provenance: provenance(pairs, versions, command) });
  return pairs;
}
