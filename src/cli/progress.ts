// Progress of a long job (pretrain, train, eval, embed, cluster, mine, the main example), always on
// stderr so stdout stays the command's result. On a terminal: a cli-progress bar. Elsewhere (output
// to a file, a pipe, CI): a plain line every RETROGRAD_PROGRESS_SECONDS seconds (default 10; 0 = at
// every update) with position, the caller's fields (loss, ...), rate and ETA; in both cases a
// closing summary line.
//
//   const bar = startProgress({ label: 'train', total: 200, unit: 'step' });
//   bar.update(step, { loss: loss.toFixed(4) });     // at each step
//   bar.finish();                                     // in a finally: summary, or "stopped at"
//
//   train: 40/200 steps (20%) | loss 0.4312 | 2.61 s/step | 1m44s elapsed, ETA 6m58s
//   train: 200/200 steps in 8m42s (2.61 s/step) | loss 0.2345

import { SingleBar } from 'cli-progress';

export type ProgressFields = Record<string, string | number>;

export interface ProgressOptions {
  /** Names the job in every line: 'train', 'corpus', ... */
  label: string;
  total: number;
  /** Singular noun of what is counted: 'step', 'text', 'query'. */
  unit: string;
  /** Position to start from (a resumed run); rate and ETA count from here. */
  start?: number;
  /** false: print nothing (default true). */
  enabled?: boolean;
  /** false: no rate or ETA, for units of very unequal cost (default true). */
  eta?: boolean;
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Draw the bar (default: the stream is a terminal). */
  tty?: boolean;
  /** Seconds between plain lines (default RETROGRAD_PROGRESS_SECONDS, else 10). */
  intervalSec?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

export interface Progress {
  update(value: number, fields?: ProgressFields): void;
  /** Close the bar and print the summary; safe to call more than once. Silent if nothing advanced. */
  finish(): void;
}

const SILENT: Progress = { update() {}, finish() {} };

export function progressIntervalFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RETROGRAD_PROGRESS_SECONDS;
  if (raw === undefined || raw === '') return 10;
  const s = Number(raw);
  if (!(s >= 0) || !Number.isFinite(s))
    throw new Error(`RETROGRAD_PROGRESS_SECONDS must be a non-negative number of seconds, got "${raw}"`);
  return s;
}

const plural = (unit: string): string => (unit.endsWith('y') ? `${unit.slice(0, -1)}ies` : `${unit}s`);

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '-';
  if (sec < 60) return `${sec < 10 ? sec.toFixed(1) : Math.round(sec)}s`;
  const s = Math.round(sec);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatRate(perSec: number, unit: string): string {
  if (!(perSec > 0) || !Number.isFinite(perSec)) return '-';
  if (perSec >= 1) return `${perSec >= 100 ? Math.round(perSec) : perSec.toFixed(1)} ${plural(unit)}/s`;
  return `${(1 / perSec).toFixed(2)} s/${unit}`;
}

const formatFields = (fields: ProgressFields): string[] => Object.entries(fields).map(([k, v]) => `${k} ${v}`);

export function startProgress(o: ProgressOptions): Progress {
  if (o.enabled === false) return SILENT;
  const stream = o.stream ?? process.stderr;
  const now = o.now ?? (() => performance.now());
  const interval = (o.intervalSec ?? progressIntervalFromEnv()) * 1000;
  const showEta = o.eta ?? true;
  const units = plural(o.unit);
  const from = o.start ?? 0;
  const t0 = now();
  let lastLine = t0;
  let value = from;
  let fields: ProgressFields = {};
  let finished = false;

  const bar =
    (o.tty ?? stream.isTTY === true)
      ? new SingleBar({
          format: `${o.label} [{bar}] {value}/{total} ${units}{extra}${showEta ? ' | {eta_formatted} left' : ''}`,
          stream: stream as NodeJS.WriteStream,
          hideCursor: false,
        })
      : null;
  bar?.start(o.total, from, { extra: '' });

  const rate = (): number => (value - from) / ((now() - t0) / 1000);

  return {
    update(v: number, f: ProgressFields = {}): void {
      if (finished) return;
      value = v;
      fields = f;
      if (bar) {
        bar.update(v, {
          extra: formatFields(f)
            .map((s) => ` | ${s}`)
            .join(''),
        });
        return;
      }
      const t = now();
      if (v >= o.total || t - lastLine < interval) return; // the summary reports the end
      lastLine = t;
      const pct = o.total > 0 ? ` (${Math.floor((100 * v) / o.total)}%)` : '';
      const parts = [`${o.label}: ${v}/${o.total} ${units}${pct}`, ...formatFields(f)];
      if (showEta) {
        const r = rate();
        parts.push(
          formatRate(r, o.unit),
          `${formatDuration((t - t0) / 1000)} elapsed, ETA ${formatDuration((o.total - v) / r)}`,
        );
      }
      stream.write(`${parts.join(' | ')}\n`);
    },
    finish(): void {
      if (finished) return;
      finished = true;
      bar?.stop();
      if (value === from) return;
      const elapsed = formatDuration((now() - t0) / 1000);
      const head =
        value >= o.total
          ? `${o.label}: ${value}/${o.total} ${units} in ${elapsed}`
          : `${o.label}: stopped at ${value}/${o.total} ${units} after ${elapsed}`;
      const r = showEta ? ` (${formatRate(rate(), o.unit)})` : '';
      stream.write(`${[head + r, ...formatFields(fields)].join(' | ')}\n`);
    },
  };
}
