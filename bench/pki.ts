// Benchmark of the PKI step: the full PKI of 1 control plane + 3 workers (19 certs, the service-account
// key, 7 kubeconfigs, the encryption config) built through the engine with ECDSA P-256 and RSA 2048 keys,
// beside the seed's way — `cfssl gencert | cfssljson` per cert, in sequence — with the same certs in the
// same run; plus the build work of adding one worker. Wall and CPU time, medians. Run: npx tsx bench/pki.ts [reps]

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuild, type BuildReport } from '../lib/engine/index.ts';
import { parseCertRequest, resolveRequest } from '../lib/pki/request.ts';
import { defaultConfig, defaultNodes, type ClusterConfig } from '../tasks/config/config.ts';
import { planIps } from '../tasks/net/ip-plan.ts';
import { projectTargets } from '../tasks/index.ts';
import { certCatalog, type CertSpec } from '../tasks/certs/catalog.ts';
import { defaultKeySpec } from '../tasks/certs/pki.ts';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const reps = Number(process.argv[2] ?? 5);
const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux

const config = (workers: number, keyAlgorithm: ClusterConfig['keyAlgorithm']): ClusterConfig => ({
  ...defaultConfig,
  nodes: defaultNodes({ controlPlanes: 1, workers }),
  keyAlgorithm,
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** CPU time of this process (all threads) and of its waited-for children, in ms. */
function cpuNow(): { self: number; children: number } {
  const usage = process.cpuUsage();
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // After "pid (comm) ", field 3 is state; cutime and cstime are fields 16 and 17 of the full line.
  const children = (Number(fields[13]) + Number(fields[14])) * CLOCK_TICK_MS;
  return { self: (usage.user + usage.system) / 1000, children };
}

type Sample = { wall: number; cpu: number };

async function measure(fn: () => Promise<void> | void): Promise<Sample> {
  const cpu0 = cpuNow();
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const cpu1 = cpuNow();
  return { wall, cpu: cpu1.self - cpu0.self + (cpu1.children - cpu0.children) };
}

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'harder-bench-pki-'));
  cpSync(join(REPO, 'csr'), join(root, 'csr'), { recursive: true });
  return root;
}

async function engineBuild(root: string, cfg: ClusterConfig): Promise<BuildReport> {
  const report = await runBuild({ targets: projectTargets(cfg), requested: ['certs'], root });
  if (!report.ok) throw new Error(`build failed: ${JSON.stringify(report.failures)}`);
  return report;
}

/** The seed's way: each cert by `cfssl gencert … | cfssljson -bare`, one after another. */
function cfsslAll(root: string, cfg: ClusterConfig): number {
  const dir = join(root, 'cfssl');
  cpSync(join(REPO, 'csr/ca-config.json'), join(dir, 'ca-config.json'));
  const key = defaultKeySpec(cfg);
  let certs = 0;
  const run = (args: string[], input?: string): string => {
    const out = spawnSync(args[0]!, args.slice(1), { cwd: dir, input, encoding: 'utf8', maxBuffer: 1 << 24 });
    if (out.status !== 0) throw new Error(`${args.join(' ')} failed: ${out.stderr}`);
    return out.stdout;
  };
  for (const spec of certCatalog(cfg, planIps(cfg))) {
    const base = spec.id.replace(/:/g, '-');
    const request = resolveRequest(parseCertRequest(readFileSync(join(root, spec.request), 'utf8'), spec.request), spec.vars);
    const json = { CN: request.CN, names: request.names, hosts: request.hosts.map((h) => h.value), key: request.key ?? key };
    writeFileSync(join(dir, `${base}-csr.json`), JSON.stringify(json));
    const gencert = spec.signer
      ? ['cfssl', 'gencert', `-ca=${spec.signer}.pem`, `-ca-key=${spec.signer}-key.pem`, '-config=ca-config.json', `-profile=${spec.profile}`, `${base}-csr.json`]
      : ['cfssl', 'gencert', '-initca', `${base}-csr.json`];
    run(['cfssljson', '-bare', base], run(gencert));
    certs++;
  }
  return certs;
}

type Row = { name: string; wall: number[]; cpu: number[] };

async function main(): Promise<void> {
  const four = { ecdsa: config(3, 'ecdsa'), rsa: config(3, 'rsa') };
  const certCount = certCatalog(four.ecdsa, planIps(four.ecdsa)).length;
  const rows: Row[] = [];
  const add = (name: string, sample: Sample) => {
    let row = rows.find((r) => r.name === name);
    if (!row) rows.push((row = { name, wall: [], cpu: [] }));
    row.wall.push(sample.wall);
    row.cpu.push(sample.cpu);
  };
  // The first build in a process also loads @peculiar/x509 (~90 ms); measured once, apart.
  {
    const root = tempRoot();
    add('engine ECDSA P-256, first in process (loads @peculiar/x509)', await measure(() => engineBuild(root, four.ecdsa).then(() => {})));
    rmSync(root, { recursive: true, force: true });
  }
  const workerAdd: { wall: number[]; work: number[]; built: string[] } = { wall: [], work: [], built: [] };
  for (let i = 0; i < reps; i++) {
    for (const [label, cfg] of [['ECDSA P-256', four.ecdsa], ['RSA 2048', four.rsa]] as const) {
      const root = tempRoot();
      add(`engine ${label}`, await measure(() => engineBuild(root, cfg).then(() => {})));
      add(`engine ${label}, no-op rerun`, await measure(() => engineBuild(root, cfg).then(() => {})));
      if (label === 'ECDSA P-256') {
        const t0 = performance.now();
        const report = await engineBuild(root, config(4, 'ecdsa'));
        workerAdd.wall.push(performance.now() - t0);
        const built = Object.entries(report.entries).filter(([, e]) => !e.alias && e.outcome === 'built');
        workerAdd.work.push(built.reduce((sum, [, e]) => sum + e.ms, 0));
        workerAdd.built = built.map(([n]) => n).sort();
      }
      rmSync(root, { recursive: true, force: true });
    }
    for (const [label, cfg] of [['RSA 2048 (the seed)', four.rsa], ['ECDSA P-256', four.ecdsa]] as const) {
      const root = tempRoot();
      mkdirSync(join(root, 'cfssl'));
      add(`cfssl gencert in sequence, ${label}`, await measure(() => void cfsslAll(root, cfg)));
      rmSync(root, { recursive: true, force: true });
    }
  }
  const cfsslRow = rows.find((r) => r.name.startsWith('cfssl gencert in sequence, RSA'))!;
  const cfsslRsa = median(cfsslRow.wall);
  const cfsslRsaCpu = median(cfsslRow.cpu);
  const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
  console.log(`PKI for 1 control plane + 3 workers: ${certCount} certs (+ service-account key, 7 kubeconfigs, encryption config for the engine); ${reps} reps, medians`);
  console.log(`${os()}\n`);
  const header = ['run', 'wall', 'cpu', 'seed cfssl wall ÷ this', 'seed cfssl cpu ÷ this'];
  const ratio = (a: number, b: number) => `${(a / Math.max(b, 1)).toFixed(1)}×`;
  const table = rows.map((r) => [r.name, fmt(median(r.wall)), fmt(median(r.cpu)), ratio(cfsslRsa, median(r.wall)), ratio(cfsslRsaCpu, median(r.cpu))]);
  table.push(['add worker-4 to a built 1+3 PKI: runBuild wall', fmt(median(workerAdd.wall)), '-', '-', '-']);
  table.push(['add worker-4: build work (sum of built targets\' ms)', fmt(median(workerAdd.work)), '-', '-', '-']);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  for (const row of [header, widths.map((w) => '-'.repeat(w)), ...table]) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  console.log(`\nadding a worker built: ${workerAdd.built.join(', ')}`);
  const ecdsa = median(rows.find((r) => r.name === 'engine ECDSA P-256')!.wall);
  const ecdsaCpu = median(rows.find((r) => r.name === 'engine ECDSA P-256')!.cpu);
  console.log(`goal ECDSA ≥ 5× faster than the seed's cfssl run: wall ${ratio(cfsslRsa, ecdsa)}, cpu ${ratio(cfsslRsaCpu, ecdsaCpu)} ${cfsslRsa / ecdsa >= 5 ? 'MET' : 'NOT MET'}`);
  const cfsslEcdsaRow = rows.find((r) => r.name === 'cfssl gencert in sequence, ECDSA P-256')!;
  console.log(`  (against cfssl also using ECDSA: wall ${ratio(median(cfsslEcdsaRow.wall), ecdsa)}, cpu ${ratio(median(cfsslEcdsaRow.cpu), ecdsaCpu)})`);
  console.log(`goal adding a worker < 100 ms of build work: ${fmt(median(workerAdd.work))} ${median(workerAdd.work) < 100 ? 'MET' : 'NOT MET'}`);
}

function os(): string {
  const cpus = spawnSync('nproc', [], { encoding: 'utf8' }).stdout.trim();
  const cfssl = spawnSync('cfssl', ['version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  return `node ${process.version}, ${cpus} CPUs, ${cfssl}; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')} (other work on the machine inflates wall times)`;
}

await main();
