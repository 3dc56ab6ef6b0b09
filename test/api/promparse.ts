// Reads a Prometheus text exposition with the Prometheus project's own Python client
// parser (prometheus_client.parser, Debian's python3-prometheus-client; scripts/setup.sh
// installs it), as a scraper would. The npm parser parse-prometheus-text-format was
// tried first: it drops the labels, sums and counts of labelled histograms.
import { execFileSync } from 'node:child_process';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  /** As Python prints it: '1.0', 'inf', 'nan'. */
  value: string;
}

export interface PromFamily {
  /** Counters without `_total` (the client library strips it). */
  name: string;
  type: string;
  help: string;
  samples: PromSample[];
}

const SCRIPT = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": repr(s.value)} for s in f.samples]})
print(json.dumps(out))
`;

export const PYTHON = '/usr/bin/python3';

/** Throws with the parser's message when the text is not valid exposition format. */
export function promParse(text: string): PromFamily[] {
  try {
    return JSON.parse(execFileSync(PYTHON, ['-c', SCRIPT], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })) as PromFamily[];
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`prometheus_client could not parse the exposition: ${(err.stderr ?? err.message).trim().split('\n').pop()}`);
  }
}

/** The parser is there (python3-prometheus-client). */
export function havePromParser(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import prometheus_client.parser'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
