// Source positions in a parsed YAML document: the file:line:col of the key or
// value at a path such as ['services', 0, 'ports', 1], so that schema errors and
// the model's `src` maps point at what the operator wrote.
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';
import type { Loc } from '../../model/types.js';

export type Path = readonly (string | number)[];

interface Found {
  /** The deepest node reached. */
  node: Node | null;
  /** The pair holding it, when it is a map value. */
  pair?: Pair;
  /** How many path segments were matched. */
  depth: number;
}

export class Positions {
  constructor(
    private readonly doc: Document,
    private readonly lc: LineCounter,
    readonly file: string,
  ) {}

  at(offset: number): Loc {
    const { line, col } = this.lc.linePos(offset);
    return { file: this.file, line, col };
  }

  /** Follows `path` as far as it exists in the document. */
  find(path: Path): Found {
    let node = this.resolve(this.doc.contents as Node | null);
    let pair: Pair | undefined;
    let depth = 0;
    for (const seg of path) {
      if (isMap(node)) {
        const p = node.items.find((it) => isPair(it) && keyText(it.key) === String(seg));
        if (!p) break;
        pair = p as Pair;
        node = this.resolve(p.value as Node | null);
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
        pair = undefined;
        node = this.resolve(node.items[seg] as Node | null);
      } else break;
      depth++;
      if (node === null) break;
    }
    return { node, ...(pair ? { pair } : {}), depth };
  }

  /** Where the value at `path` starts (or its key, for a key without a value; or the nearest ancestor). */
  value(path: Path): Loc {
    const f = this.find(path);
    const r = f.node?.range ?? (f.pair?.key as Node | undefined)?.range;
    return r ? this.at(r[0]) : this.at(0);
  }

  /** Where the key of the map entry at `path` is written; a sequence item's value otherwise. */
  key(path: Path): Loc {
    const f = this.find(path);
    if (f.depth === path.length && f.pair && typeof path[path.length - 1] === 'string') {
      const r = (f.pair.key as Node | null)?.range;
      if (r) return this.at(r[0]);
    }
    return this.value(path);
  }

  /** True when the whole path exists in the document. */
  has(path: Path): boolean {
    return this.find(path).depth === path.length;
  }

  private resolve(node: Node | null): Node | null {
    // Aliases point at their anchor, which is where the operator wrote the value.
    return isAlias(node) ? ((node.resolve(this.doc) as Node | undefined) ?? null) : node;
  }
}

function keyText(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}

/** "services[0].ports[1]" */
export function pathText(path: Path): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s;
}
