/**
 * A strict reader of Prometheus' text exposition format 0.0.4, for tests: it throws on anything a
 * Prometheus server would reject or misread (a family declared twice, a sample without its family's
 * HELP and TYPE, a family split in two, a malformed line), and returns the samples to query.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pattern = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let at = 0;
  while (at < text.length) {
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (!match?.[1]) throw new Error(`malformed labels in: ${line}`);
    if (match[1] in labels) throw new Error(`label ${match[1]} twice in: ${line}`);
    labels[match[1]] = (match[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    at = pattern.lastIndex;
  }
  return labels;
}

/** A sample value as Prometheus reads it (Go's ParseFloat: NaN and Inf in any case, with a sign). */
function parseValue(text: string, line: string): number {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special) return special[2]?.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new Error(`bad value in: ${line}`);
  return value;
}

/** Parses and checks a whole exposition; the families in order of appearance. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, { name: string; type?: string; help?: string; samples: Sample[] }>();
  let current: { name: string; type?: string; help?: string; samples: Sample[] } | undefined;

  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, keyword, name = '', rest = ''] = meta;
      if (!NAME.test(name)) throw new Error(`bad metric name: ${line}`);
      if (current?.name !== name) {
        if (families.has(name)) throw new Error(`family ${name} declared twice`);
        current = { name, samples: [] };
        families.set(name, current);
      }
      if (current.samples.length > 0) throw new Error(`# ${keyword} ${name} after its samples`);
      const field = keyword === 'HELP' ? 'help' : 'type';
      if (current[field] !== undefined) throw new Error(`# ${keyword} ${name} twice`);
      if (field === 'type' && !TYPES.has(rest)) throw new Error(`unknown type: ${line}`);
      current[field] = rest;
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    if (!sample) throw new Error(`malformed sample: ${line}`);
    const [, name = '', labels = '', value = ''] = sample;
    const belongs = (family: { name: string; type?: string }) => (SUFFIXES[family.type ?? ''] ?? ['']).some((suffix) => family.name + suffix === name);
    if (!current || !belongs(current)) {
      const elsewhere = [...families.values()].find(belongs);
      throw new Error(elsewhere ? `family ${elsewhere.name} split by another family` : `sample ${name} has no # HELP and # TYPE before it`);
    }
    current.samples.push({ name, labels: parseLabels(labels, line), value: parseValue(value, line) });
  }

  const checked = new Map<string, Family>();
  for (const family of families.values()) {
    if (family.help === undefined || family.type === undefined) throw new Error(`family ${family.name} lacks # HELP or # TYPE`);
    checked.set(family.name, { name: family.name, type: family.type, help: family.help, samples: family.samples });
  }
  return checked;
}

/** The value of the one sample named `name` whose labels include `labels`, or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const matches = [...families.values()]
    .flatMap((family) => family.samples)
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matches[0]?.value;
}
