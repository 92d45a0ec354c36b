// WGSL source loading for the webgpu backend: reads kernels/wgsl/*.wgsl, expands the
// `// #include lib/<file>.wgsl` lines (each library once per module) and substitutes the
// `{{NAME}}` specialization placeholders. It does not compile anything (see pipelines in index.ts).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const WGSL_DIR = fileURLToPath(new URL('../../../../kernels/wgsl/', import.meta.url));

const fileCache = new Map<string, string>();

function readWgsl(name: string): string {
  let text = fileCache.get(name);
  if (text === undefined) {
    text = readFileSync(WGSL_DIR + name, 'utf8');
    fileCache.set(name, text);
  }
  return text;
}

/** Specialization values: placeholder name -> WGSL text (a type name, an op name, ...). */
export type Specialization = Readonly<Record<string, string>>;

function substitute(text: string, spec: Specialization, file: string): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = spec[key];
    if (value === undefined) throw new Error(`webgpu: ${file} needs specialization {{${key}}}`);
    return value;
  });
}

const INCLUDE = /^\/\/ #include (\S+)\s*$/;

/** Full WGSL module text for kernel file `name` (e.g. 'unary.wgsl') under `spec`. */
export function kernelSource(name: string, spec: Specialization): string {
  const included = new Set<string>();
  const expand = (file: string): string => {
    const lines = substitute(readWgsl(file), spec, file).split('\n');
    return lines
      .map((line) => {
        const m = INCLUDE.exec(line);
        if (m === null) return line;
        const lib = m[1];
        if (included.has(lib)) return '';
        included.add(lib);
        return expand(lib);
      })
      .join('\n');
  };
  return expand(name);
}

/** Cache key of a specialized kernel, also its name in the backend's kernel counts. */
export function kernelKey(name: string, spec: Specialization): string {
  const parts = Object.keys(spec)
    .sort()
    .map((k) => `${k}=${spec[k]}`);
  return parts.length === 0 ? name : `${name}[${parts.join(',')}]`;
}
