// Reading ginkgo's JSON report (github.com/onsi/ginkgo/v2/types.Report) into the summary the conformance
// run prints and writes: counts, wall time, and each failure's name with the first lines of its reason.

/** The fields of ginkgo's types.SpecReport read here (its JSON report is an array of suite reports). */
type SpecReport = {
  ContainerHierarchyTexts?: string[] | null;
  LeafNodeText?: string;
  LeafNodeType?: string;
  State?: string;
  RunTime?: number;
  Failure?: { Message?: string; ForwardedPanic?: string } | null;
};
type SuiteReport = { SpecReports?: SpecReport[] | null; RunTime?: number };

export type PartSummary = {
  part: 'parallel' | 'serial';
  passed: number;
  failed: number;
  /** Skipped when run (the test skipped itself) or by the project's skip list; specs the focus left out are not counted. */
  skipped: number;
  seconds: number;
  failures: { name: string; reason: string[] }[];
};

export type ConformanceSummary = { passed: number; failed: number; skipped: number; seconds: number; parts: PartSummary[]; failures: { name: string; reason: string[] }[] };

const FAILED_STATES = new Set(['failed', 'panicked', 'timedout', 'interrupted', 'aborted']);

/** A spec's full name as ginkgo prints it: container texts then the leaf text, space-separated. */
export function specName(spec: SpecReport): string {
  return [...(spec.ContainerHierarchyTexts ?? []), spec.LeafNodeText ?? ''].filter(Boolean).join(' ');
}

/** One test of a report: its full name, ginkgo's state for it, and its failure (or self-skip) message. */
export type SpecOutcome = { name: string; state: string; message: string };

/** Every test (`It` node) of a ginkgo JSON report; suite-level setup nodes are not tests. */
export function specOutcomes(reportJson: string): SpecOutcome[] {
  const suites = JSON.parse(reportJson) as SuiteReport[];
  return suites.flatMap((suite) =>
    (suite.SpecReports ?? [])
      .filter((spec) => spec.LeafNodeType === 'It')
      .map((spec) => ({ name: specName(spec), state: spec.State ?? '', message: (spec.Failure?.Message || spec.Failure?.ForwardedPanic || '').trim() })),
  );
}

const firstLines = (message: string, state: string, n: number) => (message || state).split('\n').filter((l) => l.trim()).slice(0, n);

/**
 * One part's summary from ginkgo's JSON report. `listedSkip` tells whether a name is on the project's
 * skip list (counted as skipped in the part the test belongs to; specs the label filter or focus left out are not counted).
 */
export function summarizePart(part: PartSummary['part'], reportJson: string, seconds: number, listedSkip: (name: string) => boolean, reasonLines = 4): PartSummary {
  const summary: PartSummary = { part, passed: 0, failed: 0, skipped: 0, seconds, failures: [] };
  for (const spec of specOutcomes(reportJson)) {
    if (spec.state === 'passed') summary.passed++;
    else if (FAILED_STATES.has(spec.state)) {
      summary.failed++;
      summary.failures.push({ name: spec.name, reason: firstLines(spec.message, spec.state, reasonLines) });
    } else if (spec.state === 'skipped' && (spec.message || (listedSkip(spec.name) && inPart(part, spec.name)))) summary.skipped++;
  }
  return summary;
}

/**
 * One part held against the suite's own list of its tests (conformance.yaml's names in that part): each
 * expected test passed, failed, skipped by the skip list, skipped by the suite itself, or was not run at all
 * (no report: the part crashed; missing from it: interrupted, or a name the list and the suite spell differently).
 * `ranUnlisted` are tests the report ran that the list does not name. A crash is never counted as a pass.
 */
export type PartAccount = {
  part: PartSummary['part'];
  expected: number;
  passed: string[];
  failed: { name: string; reason: string[] }[];
  listedSkips: string[];
  selfSkipped: { name: string; reason: string[] }[];
  notRun: string[];
  ranUnlisted: string[];
};

export function accountPart(part: PartSummary['part'], expected: readonly string[], outcomes: SpecOutcome[] | undefined, listedSkip: (name: string) => boolean, reasonLines = 4): PartAccount {
  const account: PartAccount = { part, expected: expected.length, passed: [], failed: [], listedSkips: [], selfSkipped: [], notRun: [], ranUnlisted: [] };
  const byName = new Map((outcomes ?? []).map((o) => [o.name, o]));
  for (const name of expected) {
    const o = byName.get(name);
    if (o?.state === 'passed') account.passed.push(name);
    else if (o && FAILED_STATES.has(o.state)) account.failed.push({ name, reason: firstLines(o.message, o.state, reasonLines) });
    else if (listedSkip(name)) account.listedSkips.push(name);
    else if (o?.state === 'skipped' && o.message) account.selfSkipped.push({ name, reason: firstLines(o.message, o.state, reasonLines) });
    else account.notRun.push(name);
  }
  const listed = new Set(expected);
  for (const o of outcomes ?? []) if (o.state !== 'skipped' && !listed.has(o.name) && inPart(part, o.name)) account.ranUnlisted.push(o.name);
  return account;
}

/** Whether a test belongs to a part: the [Serial] tag is in the name of every test WithSerial() marks. */
export function inPart(part: PartSummary['part'], name: string): boolean {
  return name.includes('[Serial]') === (part === 'serial');
}

export function combine(parts: PartSummary[]): ConformanceSummary {
  const sum = (key: 'passed' | 'failed' | 'skipped' | 'seconds') => parts.reduce((n, p) => n + p[key], 0);
  return { passed: sum('passed'), failed: sum('failed'), skipped: sum('skipped'), seconds: sum('seconds'), parts, failures: parts.flatMap((p) => p.failures) };
}

export function minutes(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** The printed summary: one line of counts, one per part, then each failure with its reason indented. */
export function renderSummary(summary: ConformanceSummary, reportDir: string): string {
  const lines = [`conformance: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped in ${minutes(summary.seconds)}`];
  for (const p of summary.parts) lines.push(`  ${p.part}: ${p.passed} passed, ${p.failed} failed, ${p.skipped} skipped in ${minutes(p.seconds)}`);
  for (const f of summary.failures) lines.push(`FAIL ${f.name}`, ...f.reason.map((l) => `    ${l}`));
  lines.push(`report: ${reportDir} (junit-*.xml, e2e-*.log, summary.json)`);
  return `${lines.join('\n')}\n`;
}
