// `retrograd data build <dataset> --out DIR`: build a dataset from Debian packages.
//
//   retrograd data build pkgdesc  --out data/pkgdesc [--seed N]   package descriptions (BEIR; also
//                                                                  writes DIR-train with BM25
//                                                                  triples, DIR-dev and DIR-test)
//   retrograd data build pretrain --out DIR [--pkgdesc data/pkgdesc] MLM text corpus: ~30 Debian
//                                                                  documentation packages + train
//                                                                  descriptions, de-duplicated
//   retrograd data build faq      --out data/faq                    perlfaq + Python FAQ (BEIR, test)
//   retrograd data build wordnet  --out DIR                          WordNet word -> gloss (BEIR, train)
//
// Packages are fetched with apt-get download and unpacked with dpkg-deb -x in a temporary folder
// that is removed afterwards; index files are read from /var/lib/apt/lists (run
// `apt-get -o Acquire::Languages=en update` first). Outputs are written atomically: a failed build
// leaves no half-written file. A summary goes to stderr.

import { InvalidArgumentError, type Command } from 'commander';
import { buildFaq } from '../data/faq.js';
import { buildPkgdescFromApt, DEFAULT_PKGDESC } from '../data/pkgdesc.js';
import { buildPretrain } from '../data/pretrain.js';
import { buildWordnet } from '../data/wordnet.js';

const DATASETS = ['pkgdesc', 'pretrain', 'faq', 'wordnet'] as const;
type Dataset = (typeof DATASETS)[number];

function intOption(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected an integer, got ${value}`);
  return n;
}

function seconds(start: number): string {
  return `${((performance.now() - start) / 1000).toFixed(1)} s`;
}

export interface DataBuildOptions {
  out: string;
  seed?: number;
  pkgdesc?: string;
}

/** Build one dataset; returns the summary lines printed by the CLI. */
export async function runDataBuild(dataset: string, o: DataBuildOptions): Promise<string[]> {
  if (!(DATASETS as readonly string[]).includes(dataset))
    throw new Error(`unknown dataset "${dataset}" (expected one of: ${DATASETS.join(', ')})`);
  const start = performance.now();
  let command = `retrograd data build ${dataset} --out ${o.out}`;
  if (dataset === 'pkgdesc' && o.seed !== undefined) command += ` --seed ${o.seed}`;
  if (dataset === 'pretrain' && o.pkgdesc !== undefined) command += ` --pkgdesc ${o.pkgdesc}`;
  switch (dataset as Dataset) {
    case 'pkgdesc': {
      const { data, dirs } = await buildPkgdescFromApt(
        o.out,
        { ...DEFAULT_PKGDESC, seed: o.seed ?? DEFAULT_PKGDESC.seed },
        command,
      );
      const s = data.stats;
      return [
        `pkgdesc: ${s.pairs} pairs, ${s.distinctTexts} distinct texts, ${s.docs} documents after near-duplicate merging, ${s.families} families`,
        ...(['train', 'dev', 'test'] as const).map(
          (sp) =>
            `  ${sp}: ${s.docsPerSplit[sp]} documents, ${s.queriesPerSplit[sp]} queries, ${s.familiesPerSplit[sp]} families`,
        ),
        `wrote ${dirs.join(', ')} in ${seconds(start)}`,
      ];
    }
    case 'faq': {
      const pairs = await buildFaq(o.out, command);
      const perl = pairs.filter((p) => p.source.startsWith('perl-doc:')).length;
      return [
        `faq: ${pairs.length} pairs (${perl} perlfaq, ${pairs.length - perl} Python FAQ)`,
        `wrote ${o.out} in ${seconds(start)}`,
      ];
    }
    case 'wordnet': {
      const n = await buildWordnet(o.out, command);
      return [`wordnet: ${n.docs} glosses, ${n.queries} queries`, `wrote ${o.out} in ${seconds(start)}`];
    }
    case 'pretrain': {
      const counts = await buildPretrain({ out: o.out, pkgdesc: o.pkgdesc ?? 'data/pkgdesc', command });
      const sum = (f: (c: (typeof counts)[number]) => number): number => counts.reduce((a, c) => a + f(c), 0);
      return [
        ...counts.map(
          (c) =>
            `  ${c.source}: ${c.docs} lines, ${c.words} words, ~${c.tokens} tokens (duplicates removed: ${c.exactDups} exact, ${c.nearDups} near)`,
        ),
        `pretrain: ${sum((c) => c.docs)} lines, ${sum((c) => c.words)} words, ~${sum((c) => c.tokens)} WordPiece tokens (estimated), ${sum((c) => c.dupWords)} duplicate words removed`,
        `wrote ${o.out}/pretrain.jsonl.gz in ${seconds(start)}`,
      ];
    }
  }
}

export function registerData(program: Command): void {
  const data = program.command('data').description('datasets built from Debian packages');
  data
    .command('build')
    .description(`build a dataset: ${DATASETS.join(' | ')}`)
    .argument('<dataset>', DATASETS.join(' | '))
    .requiredOption('--out <dir>', 'output directory')
    .option('--seed <n>', 'split seed (pkgdesc)', intOption)
    .option(
      '--pkgdesc <dir>',
      'pkgdesc BEIR directory whose train documents go into the pretraining corpus',
      'data/pkgdesc',
    )
    .action(async (dataset: string, o: DataBuildOptions) => {
      for (const line of await runDataBuild(dataset, o)) process.stderr.write(`${line}\n`);
    });
}
