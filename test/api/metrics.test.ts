// /metrics read as a scraper reads it (the Prometheus project's Python client parser,
// promparse.ts), plus the conventions the parser does not enforce: HELP and TYPE for
// every family, `_total` counters, base units in the names, cumulative histogram
// buckets, label values escaped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { promParse, type PromFamily } from './promparse.js';
import { ApiMetrics, Exposition, Histogram, renderMetrics } from '../../src/api/metrics.js';
import { seedStatus } from './fixtures.js';

/** Families by their exposed name (counters with `_total`, as written). */
function families(text: string): Map<string, PromFamily> {
  return new Map(promParse(text).map((f) => [f.type === 'counter' ? `${f.name}_total` : f.name, f]));
}

const sample = (f: PromFamily | undefined, labels: Record<string, string>, name?: string) =>
  f?.samples.find((x) => (name === undefined || x.name === name) && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);

const value = (f: PromFamily | undefined, labels: Record<string, string>, name?: string): number | undefined => {
  const s = sample(f, labels, name);
  return s === undefined ? undefined : Number(s.value);
};

/** Every line is a comment (HELP/TYPE) or a sample `name{labels} value`. */
function checkLines(text: string): void {
  const sampleLine = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/;
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const typed = new Map<string, string>();
  for (const line of text.trimEnd().split('\n')) {
    const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      assert.ok(!typed.has(t[1]!), `family ${t[1]} declared twice`);
      typed.set(t[1]!, t[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    assert.match(line, sampleLine, `not a sample line: ${line}`);
    const name = line.replace(/[{ ].*$/, '');
    const fam = [...typed.keys()].find((f) => name === f || (typed.get(f) === 'histogram' && [`${f}_bucket`, `${f}_sum`, `${f}_count`].includes(name)));
    assert.ok(fam, `sample ${name} without a TYPE line before it`);
  }
  for (const [name, type] of typed) {
    if (type === 'counter') assert.match(name, /_total$/, `counter ${name} must end in _total`);
    else assert.doesNotMatch(name, /_total$/, `${type} ${name} must not end in _total`);
    assert.doesNotMatch(name, /_(ms|milliseconds|kb|mb|percent)(_|$)/, `${name}: use base units (seconds, bytes)`);
  }
}

describe('metrics exposition', () => {
  const m = new ApiMetrics();
  m.checkDuration.observe({ check: 'HTTP_GET', result: 'ok' }, 0.0012);
  m.checkDuration.observe({ check: 'HTTP_GET', result: 'ok' }, 0.03);
  m.checkDuration.observe({ check: 'HTTP_GET', result: 'fail' }, 20);
  m.syncDuration.observe({ mode: 'full' }, 0.004);
  m.transitions.inc({ instance: 'VI_1', to: 'BACKUP' });
  m.transitions.inc({ instance: 'VI_1', to: 'MASTER' });
  m.reloads.inc({ result: 'refused' });
  const text = renderMetrics(seedStatus(), m);
  const f = families(text);

  it('parses, and follows the naming conventions', () => {
    checkLines(text);
    assert.throws(() => promParse('haldir_x{a="1" 2\n'), /could not parse/, 'the parser does refuse bad input');
    assert.ok(f.size >= 30, `${f.size} families`);
  });

  it('VRRP: state set, priorities, advert age in seconds, transitions, adverts by result', () => {
    assert.equal(f.get('haldir_vrrp_state')!.type, 'gauge');
    assert.equal(value(f.get('haldir_vrrp_state'), { instance: 'VI_1', state: 'MASTER' }), 1);
    assert.equal(value(f.get('haldir_vrrp_state'), { instance: 'VI_1', state: 'BACKUP' }), 0);
    assert.equal(f.get('haldir_vrrp_state')!.samples.length, 5);
    assert.equal(value(f.get('haldir_vrrp_priority'), { instance: 'VI_1' }), 100);
    assert.equal(value(f.get('haldir_vrrp_last_advert_age_seconds'), { instance: 'VI_1' }), 0.85);
    assert.equal(f.get('haldir_vrrp_transitions_total')!.type, 'counter');
    assert.equal(value(f.get('haldir_vrrp_transitions_total'), { instance: 'VI_1', to: 'MASTER' }), 1);
    assert.equal(value(f.get('haldir_vrrp_adverts_received_total'), { instance: 'VI_1', result: 'valid' }), 120);
    assert.equal(value(f.get('haldir_vrrp_adverts_received_total'), { instance: 'VI_1', result: 'auth_failure' }), 3);
    assert.equal(value(f.get('haldir_vrrp_priority_zero_adverts_total'), { instance: 'VI_1', direction: 'sent' }), 1);
  });

  it('real servers: up, weight, connections, bytes, check latency in seconds', () => {
    const l = { service: '[192.168.2.100]:tcp:80', server: '[192.168.2.13]:tcp:80' };
    assert.equal(value(f.get('haldir_realserver_up'), l), 0);
    assert.equal(value(f.get('haldir_realserver_up'), { ...l, server: '[192.168.2.12]:tcp:80' }), 1);
    assert.equal(value(f.get('haldir_realserver_weight'), l), 0);
    assert.equal(value(f.get('haldir_realserver_active_connections'), { ...l, server: '[192.168.2.12]:tcp:80' }), 2);
    assert.equal(value(f.get('haldir_realserver_bytes_total'), { ...l, server: '[192.168.2.12]:tcp:80' }), 4096);
    assert.equal(value(f.get('haldir_realserver_check_latency_seconds'), { ...l, check: 'HTTP_GET' }), 0.0004);
    assert.equal(f.get('haldir_realserver_up')!.samples.length, 16);
  });

  it('histograms: cumulative buckets per label set ending in +Inf = count, sum in seconds', () => {
    const h = f.get('haldir_check_duration_seconds')!;
    assert.equal(h.type, 'histogram');
    const ok = { check: 'HTTP_GET', result: 'ok' };
    const b = (le: string, l: Record<string, string> = ok) => value(h, { ...l, le }, 'haldir_check_duration_seconds_bucket');
    assert.equal(value(h, ok, 'haldir_check_duration_seconds_count'), 2);
    assert.equal(value(h, ok, 'haldir_check_duration_seconds_sum'), 0.0312);
    assert.equal(b('0.001'), 0);
    assert.equal(b('0.0025'), 1);
    assert.equal(b('0.05'), 2);
    assert.equal(b('+Inf'), 2);
    const fail = { check: 'HTTP_GET', result: 'fail' };
    assert.equal(b('10', fail), 0, 'beyond the last bucket');
    assert.equal(b('+Inf', fail), 1);
    const counts = h.samples.filter((x) => x.name.endsWith('_bucket') && x.labels.result === 'ok').map((x) => Number(x.value));
    assert.equal(counts.length, 14);
    assert.deepEqual(counts, [...counts].sort((x, y) => x - y), 'cumulative');
    assert.equal(f.get('haldir_dataplane_sync_duration_seconds')!.samples[0]!.labels.mode, 'full');
  });

  it('data plane, event loop lag (seconds, per thread), reloads, process', () => {
    assert.equal(value(f.get('haldir_dataplane_info'), { kind: 'nftables' }), 1);
    assert.equal(value(f.get('haldir_dataplane_drift_repairs_total'), {}), 1);
    assert.equal(value(f.get('haldir_eventloop_lag_seconds'), { thread: 'main', stat: 'max' }), 0.007);
    assert.equal(value(f.get('haldir_eventloop_lag_seconds'), { thread: 'vrrp', stat: 'p99' }), 0.0004);
    assert.equal(value(f.get('haldir_config_reloads_total'), { result: 'refused' }), 1);
    assert.ok(value(f.get('process_resident_memory_bytes'), {})! > 1e6);
  });

  it('label values with quotes, backslashes and newlines survive; a family is written once', () => {
    const x = new Exposition();
    x.family('t_total', 'counter', 'help with \\ and\nnewline', [[{ a: 'q"uote', b: 'back\\slash', c: 'new\nline' }, 1]]);
    const h = new Histogram('t_seconds', 'h', [1]);
    h.observe({}, Infinity);
    x.histogram(h);
    const out = x.text();
    checkLines(out);
    const p = families(out);
    assert.deepEqual(p.get('t_total')!.samples[0]!.labels, { a: 'q"uote', b: 'back\\slash', c: 'new\nline' });
    assert.equal(p.get('t_total')!.help, 'help with \\ and\nnewline');
    assert.equal(p.get('t_seconds')?.samples.length ?? 0, 0, 'an infinite observation is not counted');
    assert.throws(() => x.family('t_total', 'counter', 'again', []), /written twice/);
  });
});
