// Model comparison without source positions: two front ends agree when the
// models they produce are equal once `src` maps are stripped.

/** A deep copy without `src` keys and without undefined fields. */
export function stripSrc<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (k, val: unknown) => (k === 'src' ? undefined : val))) as T;
}
