/** The human side of a bench run: a markdown summary and an SVG chart, both from the results JSON. */
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/lib/binaries';
import { codecCostMarkdown } from '../codec-cost';
import type { BenchResults, PhaseResult } from './results';
import type { LatencySummary } from './stats';

const SYSTEM_LABELS: Record<string, string> = {
  ceilingA: 'Ceiling A: bare workflow',
  ceilingB: 'Ceiling B: 6 no-op activities',
  ceilingC: 'Ceiling C: order-shaped, no-op (10 activities + signal)',
  ceilingO: 'Ceiling O: our orderFulfillment code, no-op activities',
  oursClient: 'Ours via client (orderFulfillment)',
  oursHttp: 'Ours via HTTP (POST /orders)',
};
const SHORT_LABELS: Record<string, string> = {
  ceilingA: 'A bare',
  ceilingB: 'B 6 no-op',
  ceilingC: 'C order-shaped',
  ceilingO: 'O our wf, stubs',
  oursClient: 'ours client',
  oursHttp: 'ours HTTP',
};
const PROCESS_ORDER = ['temporal', 'postgres', 'worker', 'api', 'sandbox', 'ceilingWorker', 'bench'];

const f0 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(0));
const f1 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(1));
const f2 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(2));
const mib = (bytes: number | undefined) =>
  bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const lat = (l: LatencySummary | undefined) => (l ? `${f1(l.p50)} / ${f1(l.p95)} / ${f1(l.p99)}` : 'n/a');

function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function renderMarkdown(results: BenchResults, extra: { findings?: string; svgFile: string }): string {
  const { meta, summary, scale } = results;
  const out: string[] = [];
  out.push(`# Benchmark ${meta.timestamp} (${meta.mode}${meta.tag ? `, ${meta.tag}` : ''})`);
  out.push('');
  for (const note of results.notes ?? []) {
    out.push(`> ${note}`);
    out.push('');
  }
  out.push(
    `Commit \`${meta.git.commit}\`${meta.git.dirty ? ' (with uncommitted changes in src/)' : ''}; ` +
      `${meta.machine.cpus} x ${meta.machine.cpuModel}, ${meta.machine.memGiB.toFixed(1)} GiB, Linux ${meta.machine.kernel}, ` +
      `Node ${meta.machine.node}; wall time ${f0(meta.wallSeconds)} s.`,
  );
  out.push('');
  out.push(
    `Versions: ${Object.entries(meta.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
  );
  out.push('');
  out.push(
    `Setup: one \`temporal server start-dev\` (SQLite file), one embedded PostgreSQL, provider sandbox at zero latency; ` +
      `worker (${String(meta.config.workerEntry)}), API, sandbox and ceiling worker are separate processes. ` +
      `Worker options: ${JSON.stringify(meta.config.workerOptions)}; DATABASE_POOL_SIZE ${String(meta.config.DATABASE_POOL_SIZE)}; ` +
      `prebuilt workflow bundles: ${String(meta.config.prebuiltWorkflowBundles)}. Throughput phases: ${String(meta.config.rounds)} interleaved rounds ` +
      `of ${String(meta.config.phaseSeconds)} s each at concurrency ${String(meta.config.concurrency)} (closed loop), order of systems rotated every round; ` +
      `figures are medians over rounds. Orders have two lines (${(
        meta.config.orderLines as { sku: string; quantity: number }[]
      )
        .map((l) => `${l.quantity} x ${l.sku}`)
        .join(', ')}); the harvest is reported right after the start.`,
  );
  out.push('');
  out.push(`![chart](${extra.svgFile})`);
  out.push('');

  out.push('## Targets (measured, not asserted)');
  out.push('');
  out.push(
    table(
      ['target', 'goal', 'measured', 'met'],
      results.targets.map((t) => [t.name, t.target, t.measured, t.met === null ? 'n/a' : t.met ? 'yes' : '**no**']),
    ),
  );
  out.push('');

  out.push('## Throughput and latency (closed loop, median of rounds)');
  out.push('');
  out.push(
    table(
      ['system', 'workflows/s (median)', 'per round', 'start or 202 p50/p95/p99 ms', 'end-to-end p50/p95/p99 ms'],
      Object.entries(summary.systems).map(([system, s]) => [
        SYSTEM_LABELS[system] ?? system,
        f1(s.throughputMedian),
        s.throughputRounds.map(f1).join(', '),
        `${f1(s.acceptedP50)} / ${f1(s.acceptedP95)} / ${f1(s.acceptedP99)}`,
        `${f0(s.completedP50)} / ${f0(s.completedP95)} / ${f0(s.completedP99)}`,
        f1(s.cpuCapacityPerSec),
      ]),
    ),
  );
  out.push('');
  out.push(
    `- **R1** = ours via client / ceiling B = **${f2(summary.r1)}** (target >= 0.7); against the order-shaped ceiling C: ${f2(summary.r1Shape)}. ` +
      `From CPU cost per workflow instead (less sensitive to other load on the machine): ${f2(summary.r1Cpu)}.`,
  );
  if (Number.isFinite(summary.rStub)) {
    out.push(
      `- Ours via client / ceiling O (the same workflow code with no-op activities) = ${f2(summary.rStub)}: what our activity implementations (PostgreSQL, Prisma, provider calls) cost in throughput.`,
    );
  }
  out.push(`- **R2** = ours via HTTP / ours via client = **${f2(summary.r2)}**.`);
  out.push(
    `- End-to-end latency ours (client) / ceiling B: p50 ${f2(summary.latencyRatioP50)}x, p99 ${f2(summary.latencyRatioP99)}x.`,
  );
  out.push('');

  out.push('### CPU per completed workflow (ms, median of rounds)');
  out.push('');
  const procs = PROCESS_ORDER.filter((p) => Object.values(summary.systems).some((s) => p in s.cpuMsPerWorkflow));
  out.push(
    table(
      ['system', ...procs, 'total', 'implied max (all cores, bench client excluded)'],
      Object.entries(summary.systems).map(([system, s]) => {
        const total = procs.reduce((sum, p) => sum + (s.cpuMsPerWorkflow[p] ?? 0), 0);
        const totalNoBench = total - (s.cpuMsPerWorkflow.bench ?? 0);
        return [
          SHORT_LABELS[system] ?? system,
          ...procs.map((p) => f2(s.cpuMsPerWorkflow[p])),
          f1(total),
          `${f0((results.meta.machine.cpus * 1000) / totalNoBench)}/s`,
        ];
      }),
    ),
  );
  out.push('');
  out.push(
    'CPU is read from /proc (utime+stime) over each phase and divided by the workflows completed in it; ' +
      'PostgreSQL is the postmaster and all its backends. Idle pollers (e.g. the ceiling worker during our phases) count too.',
  );
  out.push('');

  const dbPhases = results.phases.filter((p) => p.group === 'throughput' && p.dbPerWorkflow);
  if (dbPhases.length > 0) {
    out.push('### PostgreSQL work per order (pg_stat_statements, database harvest: worker and API)');
    out.push('');
    out.push(
      table(
        ['phase', 'statements', 'of which BEGIN', 'server exec ms', 'rows'],
        dbPhases.map((p) => [
          p.name,
          f1(p.dbPerWorkflow?.statements),
          f1(p.dbPerWorkflow?.transactions),
          f1(p.dbPerWorkflow?.execMs),
          f1(p.dbPerWorkflow?.rows),
        ]),
      ),
    );
    out.push('');
    const clientPhases = dbPhases.filter((p) => p.system === 'oursClient' && p.statements);
    if (clientPhases.length > 0) {
      const merged = new Map<string, { calls: number; ms: number }>();
      for (const p of clientPhases) {
        for (const st of p.statements ?? []) {
          const entry = merged.get(st.query) ?? { calls: 0, ms: 0 };
          entry.calls += st.callsPerWorkflow / clientPhases.length;
          entry.ms += (st.callsPerWorkflow * st.meanMs) / clientPhases.length;
          merged.set(st.query, entry);
        }
      }
      const top = [...merged].sort((a, b) => b[1].calls - a[1].calls).slice(0, 25);
      out.push(`Statements per order, ours via client (mean over ${clientPhases.length} rounds; top ${top.length}):`);
      out.push('');
      out.push(
        table(
          ['calls/order', 'mean ms', 'statement'],
          top.map(([query, use]) => [
            f2(use.calls),
            f2(use.calls > 0 ? use.ms / use.calls : Number.NaN),
            `\`${query.length > 150 ? `${query.slice(0, 147)}...` : query}\``,
          ]),
        ),
      );
      out.push('');
    }
  }

  out.push('## Histories (sampled)');
  out.push('');
  out.push(
    'State transitions per workflow are approximated by **history events per workflow** (every event is one persisted ' +
      'state change of the execution); workflow tasks are the worker round trips.',
  );
  out.push('');
  out.push(
    table(
      [
        'system',
        'sampled',
        'events/workflow',
        'workflow tasks',
        'activities',
        'signals',
        'WFT round trip p50/p95/p99 ms',
      ],
      Object.entries(results.histories)
        .filter(([, h]) => h)
        .map(([system, h]) => [
          SHORT_LABELS[system] ?? system,
          h?.sampled ?? 0,
          f1(h?.eventsPerWorkflow),
          f1(h?.workflowTasksPerWorkflow),
          f1(h?.activitiesPerWorkflow),
          f1(h?.signalsPerWorkflow),
          lat(h?.workflowTaskRoundTripMs),
        ]),
    ),
  );
  out.push('');
  const typed = Object.entries(results.histories).filter(([, h]) => h);
  const eventTypes = [...new Set(typed.flatMap(([, h]) => Object.keys(h?.eventsByType ?? {})))];
  if (eventTypes.length > 0) {
    out.push('Events per workflow by type:');
    out.push('');
    out.push(
      table(
        ['event type', ...typed.map(([system]) => SHORT_LABELS[system] ?? system)],
        eventTypes.map((t) => [t, ...typed.map(([, h]) => f1(h?.eventsByType[t] ?? 0))]),
      ),
    );
    out.push('');
  }
  for (const system of ['oursClient', 'ceilingO', 'ceilingC', 'ceilingB']) {
    const h = results.histories[system];
    if (!h) continue;
    out.push(`### Activity round trips: ${SYSTEM_LABELS[system] ?? system}`);
    out.push('');
    out.push(
      'Server timestamps. Scheduled->Started is the wait for a free poller (about 0 when one is waiting: sync match); ' +
        'Started->Completed is delivery to the worker, execution and the completion RPC.',
    );
    out.push('');
    out.push(
      table(
        [
          'activity',
          'n',
          'Scheduled->Completed p50/p95/p99 ms',
          'queue (->Started) p50/p99',
          'execution (Started->) p50/p99',
        ],
        Object.entries(h.activities).map(([name, a]) => [
          name,
          a.roundTrip.n,
          lat(a.roundTrip),
          `${f1(a.queue.p50)} / ${f1(a.queue.p99)}`,
          `${f1(a.execution.p50)} / ${f1(a.execution.p99)}`,
        ]),
      ),
    );
    out.push('');
  }

  const open = results.phases.filter((p) => p.group === 'open-loop');
  if (open.length > 0) {
    out.push('## Open loop over HTTP (fixed arrival rate)');
    out.push('');
    out.push(
      'Latency is measured from the intended send time. Each order: POST /orders, harvest signal, completion awaited. Completed/s: all orders over the time from the first request to the last completion.',
    );
    out.push('');
    out.push(phaseTable(open, (p) => `${p.ratePerSec ?? '?'} req/s`));
    out.push('');
  }
  const closed = results.phases.filter((p) => p.group === 'closed-loop');
  if (closed.length > 0) {
    out.push('## Closed loop over HTTP (concurrency sweep)');
    out.push('');
    out.push(phaseTable(closed, (p) => `${p.concurrency ?? '?'} in flight`));
    out.push('');
  }

  if (scale) {
    out.push(`## Scale: ${scale.inFlight} orders parked at the harvest wait`);
    out.push('');
    out.push(
      `- ${scale.inFlight} orders parked at the harvest wait at once. The scale set of ${scale.scaleSet} (started through the client, at most 200 on their way at a time; 3 activities each) parked in ${f1(scale.parkSeconds)} s: ${f1(scale.parkPerSec)}/s; the rest are the probes' and bursts' orders.`,
    );
    out.push(
      `- POST /orders 202 latency (sequential probes) p50/p95/p99: idle ${lat(scale.acceptedIdle)} ms; with all parked ${lat(scale.acceptedLoaded)} ms ` +
        `(ratio p50 ${f2(scale.acceptedLoaded.p50 / scale.acceptedIdle.p50)}x, p99 ${f2(scale.acceptedLoaded.p99 / scale.acceptedIdle.p99)}x).`,
    );
    out.push(
      `- Signal latency (RPC, sequential) p50/p95/p99: ${lat(scale.signalMs)} ms. Status query latency: ${lat(scale.queryMs)} ms` +
        `${scale.queryErrors ? ` (${scale.queryErrors} errors or unexpected states)` : ''}; queries of workflows evicted from the worker cache include a replay.`,
    );
    out.push(
      `- Released all ${scale.released} (${scale.releasePaced ? 'paced: at most 200 released orders in progress at a time; ' : 'in one burst; '}signals sent over ${f1(scale.releaseSeconds)} s); drained in ${f1(scale.drainSeconds)} s: **${f1(scale.drainPerSec)} orders/s**; ` +
        `release-to-completed p50/p95/p99 ${f0(scale.releaseToCompletedMs.p50)} / ${f0(scale.releaseToCompletedMs.p95)} / ${f0(scale.releaseToCompletedMs.p99)} ms` +
        `${scale.notCompleted ? `; **${scale.notCompleted} did not complete in time**` : ''}.`,
    );
    out.push('');
    if (scale.workerLog) {
      const { parking, draining } = scale.workerLog;
      out.push(
        `- Worker overload signs (worker log): workflow tasks slower than 5 s: ${parking.slowWorkflowTasks} while parking, ${draining.slowWorkflowTasks} while draining; ` +
          `workflow tasks that timed out (completion refused by the server, work redone): ${parking.workflowTasksTimedOut} / ${draining.workflowTasksTimedOut}.`,
      );
      out.push('');
    }
    out.push(
      table(
        [
          'process',
          'memory idle',
          'memory parked (at rest)',
          'peak while parking',
          'peak while draining',
          'CPU s parking',
          'CPU s draining',
        ],
        PROCESS_ORDER.filter((p) => p in scale.memParked).map((p) => [
          p,
          mib(scale.memIdle[p]),
          mib(scale.memParked[p]),
          mib(scale.parkUsage[p]?.peakMemBytes),
          mib(scale.drainUsage[p]?.peakMemBytes),
          f1(scale.parkUsage[p]?.cpuSec),
          f1(scale.drainUsage[p]?.cpuSec),
        ]),
      ),
    );
    out.push('');
    out.push('Memory: RSS (VmRSS) per process; PostgreSQL is the sum of PSS over the postmaster and its backends.');
    out.push('');
  }

  out.push(...codecCostMarkdown(results.codecCost));
  out.push('## Per process over the whole run');
  out.push('');
  out.push(
    table(
      ['process', 'CPU seconds', 'peak memory (sampled)', 'lifetime peak RSS (VmHWM)'],
      PROCESS_ORDER.filter((p) => p in results.totals).map((p) => [
        p,
        f1(results.totals[p]?.cpuSec),
        mib(results.totals[p]?.peakMemBytes),
        mib(results.totals[p]?.lifetimePeakRssBytes),
      ]),
    ),
  );
  out.push('');

  if (results.workerLog) {
    out.push(
      `Worker log over the whole run: ${results.workerLog.slowWorkflowTasks} workflow tasks slower than 5 s, ` +
        `${results.workerLog.workflowTasksTimedOut} timed out before the worker completed them; ` +
        `${results.workerLog.failedActivityAttempts} failed activity attempts (${results.workerLog.deadlocks} of them ` +
        `PostgreSQL deadlocks; the providers inject no faults here, so each one is worth a look).`,
    );
    out.push('');
  }

  if (results.profiles && results.profiles.length > 0) {
    out.push('## CPU profiles (--cpu-prof)');
    out.push('');
    for (const profile of results.profiles) {
      out.push(
        `### ${profile.process}: ${f1(profile.busySeconds)} s busy of ${f1(profile.sampledSeconds)} s sampled (main thread)`,
      );
      out.push('');
      const rows = Math.max(profile.byPackage.length, profile.byCaller.length);
      out.push(
        table(
          ['self time in', 'share', 's', 'charged to the calling package', 'share', 's'],
          Array.from({ length: Math.min(rows, 12) }, (_, i) => {
            const own = profile.byPackage[i];
            const caller = profile.byCaller[i];
            return [
              own?.name ?? '',
              own ? `${(own.share * 100).toFixed(1)}%` : '',
              own ? f2(own.seconds) : '',
              caller?.name ?? '',
              caller ? `${(caller.share * 100).toFixed(1)}%` : '',
              caller ? f2(caller.seconds) : '',
            ];
          }),
        ),
      );
      out.push('');
      out.push(
        table(
          ['function (self time)', 'location', 'share', 'seconds'],
          profile.topSelf
            .slice(0, 12)
            .map((fn) => [fn.fn, fn.where, `${(fn.share * 100).toFixed(1)}%`, f2(fn.seconds)]),
        ),
      );
      out.push('');
    }
  }

  const errors = results.phases.filter((p) => p.errors > 0);
  if (errors.length > 0) {
    out.push('## Errors');
    out.push('');
    for (const p of errors) out.push(`- ${p.name}: ${p.errors} of ${p.ops}: ${p.errorSamples.join(' | ')}`);
    out.push('');
  }

  if (extra.findings) {
    out.push(extra.findings.trim());
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

function phaseTable(phases: PhaseResult[], label: (p: PhaseResult) => string): string {
  return table(
    [
      'load',
      'orders ok/sent',
      'completed/s',
      '202 p50/p95/p99 ms',
      'end-to-end p50/p95/p99 ms',
      'CPU s worker / api / temporal / postgres',
    ],
    phases.map((p) => [
      label(p),
      `${p.ok}/${p.ops}`,
      f1(p.throughputPerSec),
      lat(p.latency.accepted),
      p.latency.completed
        ? `${f0(p.latency.completed.p50)} / ${f0(p.latency.completed.p95)} / ${f0(p.latency.completed.p99)}`
        : 'n/a',
      ['worker', 'api', 'temporal', 'postgres'].map((n) => f1(p.usage[n]?.cpuSec)).join(' / '),
    ]),
  );
}

// ---------------------------------------------------------------------------------------------
// SVG

const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#9c755f'];

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmtTick(v: number): string {
  if (v >= 1000) return `${+(v / 1000).toFixed(1)}k`;
  if (v >= 10) return v.toFixed(0);
  return +v.toFixed(2) + '';
}

interface Series {
  name: string;
  values: number[];
}

interface Panel {
  x: number;
  y: number;
  w: number;
  h: number;
  title: string;
  unit: string;
  categories: string[];
  series: Series[];
  log?: boolean;
  stacked?: boolean;
  refLine?: { value: number; label: string };
}

function panel(p: Panel): string {
  const parts: string[] = [];
  const left = p.x + 56;
  const right = p.x + p.w - 10;
  const top = p.y + 48;
  const bottom = p.y + p.h - 46;
  const plotH = bottom - top;
  parts.push(`<text x="${p.x + 10}" y="${p.y + 20}" font-size="15" font-weight="bold">${esc(p.title)}</text>`);
  const totals = p.categories.map((_, ci) =>
    p.stacked
      ? p.series.reduce((sum, s) => sum + Math.max(0, s.values[ci] ?? 0), 0)
      : Math.max(...p.series.map((s) => (Number.isFinite(s.values[ci]) ? (s.values[ci] as number) : 0))),
  );
  let max = Math.max(...totals, p.refLine?.value ?? 0, 1e-9);
  let min = 0;
  if (p.log) {
    const positives = p.series.flatMap((s) => s.values).filter((v) => Number.isFinite(v) && v > 0);
    min = 10 ** Math.floor(Math.log10(Math.min(...positives, max)));
    max = 10 ** Math.ceil(Math.log10(max));
  } else {
    const magnitude = 10 ** Math.floor(Math.log10(max));
    max = Math.ceil(max / magnitude) * magnitude;
  }
  const yOf = (v: number) => {
    if (p.log) {
      const lv = Math.log10(Math.max(v, min));
      return bottom - ((lv - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * plotH;
    }
    return bottom - (v / max) * plotH;
  };
  const ticks: number[] = [];
  if (p.log) for (let t = min; t <= max * 1.0001; t *= 10) ticks.push(t);
  else for (let i = 0; i <= 5; i++) ticks.push((max / 5) * i);
  for (const t of ticks) {
    const y = yOf(t);
    parts.push(`<line x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" font-size="11" text-anchor="end">${fmtTick(t)}</text>`);
  }
  parts.push(
    `<text x="${p.x + 12}" y="${(top + bottom) / 2}" font-size="11" transform="rotate(-90 ${p.x + 12} ${(top + bottom) / 2})" text-anchor="middle">${esc(p.unit)}</text>`,
  );
  const groupW = (right - left) / Math.max(1, p.categories.length);
  const barW = p.stacked ? groupW * 0.6 : (groupW * 0.8) / Math.max(1, p.series.length);
  p.categories.forEach((category, ci) => {
    const gx = left + ci * groupW;
    let stackBase = 0;
    p.series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === undefined || !Number.isFinite(v) || v <= 0) return;
      const color = COLORS[si % COLORS.length] as string;
      if (p.stacked) {
        const y0 = yOf(stackBase);
        const y1 = yOf(stackBase + v);
        parts.push(
          `<rect x="${gx + groupW * 0.2}" y="${y1}" width="${barW}" height="${Math.max(0, y0 - y1)}" fill="${color}"><title>${esc(`${category} ${s.name}: ${fmtTick(v)} ${p.unit}`)}</title></rect>`,
        );
        stackBase += v;
      } else {
        const x = gx + groupW * 0.1 + si * barW;
        const y = yOf(v);
        parts.push(
          `<rect x="${x}" y="${y}" width="${Math.max(1, barW - 2)}" height="${Math.max(0, bottom - y)}" fill="${color}"><title>${esc(`${category} ${s.name}: ${fmtTick(v)} ${p.unit}`)}</title></rect>`,
        );
        parts.push(
          `<text x="${x + barW / 2 - 1}" y="${y - 3}" font-size="10" text-anchor="middle">${fmtTick(v)}</text>`,
        );
      }
    });
    if (p.stacked) {
      parts.push(
        `<text x="${gx + groupW * 0.2 + barW / 2}" y="${yOf(stackBase) - 4}" font-size="10" text-anchor="middle">${fmtTick(stackBase)}</text>`,
      );
    }
    parts.push(
      `<text x="${gx + groupW / 2}" y="${bottom + 16}" font-size="11" text-anchor="middle">${esc(category)}</text>`,
    );
  });
  if (p.refLine) {
    const y = yOf(p.refLine.value);
    parts.push(`<line x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="#c00" stroke-dasharray="6 4"/>`);
    parts.push(
      `<text x="${right}" y="${y - 4}" font-size="11" fill="#c00" text-anchor="end">${esc(p.refLine.label)}</text>`,
    );
  }
  parts.push(`<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
  // Legend
  if (p.series.length > 1 || p.stacked) {
    let lx = left;
    const ly = p.y + p.h - 14;
    p.series.forEach((s, si) => {
      parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/>`);
      parts.push(`<text x="${lx + 14}" y="${ly}" font-size="11">${esc(s.name)}</text>`);
      lx += 24 + s.name.length * 6.5;
    });
  }
  return parts.join('\n');
}

export function renderSvg(results: BenchResults): string {
  const W = 1280;
  const H = 900;
  const systems = Object.keys(results.summary.systems);
  const cats = systems.map((s) => SHORT_LABELS[s] ?? s);
  const sys = (s: string) => results.summary.systems[s];
  const panels: string[] = [];
  panels.push(
    panel({
      x: 0,
      y: 40,
      w: W / 2,
      h: 420,
      title: `Throughput, closed loop at ${String(results.meta.config.concurrency)} in flight (median of ${String(results.meta.config.rounds)})`,
      unit: 'workflows / s',
      categories: cats,
      series: [{ name: 'workflows/s', values: systems.map((s) => sys(s)?.throughputMedian ?? Number.NaN) }],
    }),
  );
  panels.push(
    panel({
      x: W / 2,
      y: 40,
      w: W / 2,
      h: 420,
      title: 'End-to-end latency, start to result (log scale)',
      unit: 'ms',
      categories: cats,
      log: true,
      series: [
        { name: 'p50', values: systems.map((s) => sys(s)?.completedP50 ?? Number.NaN) },
        { name: 'p95', values: systems.map((s) => sys(s)?.completedP95 ?? Number.NaN) },
        { name: 'p99', values: systems.map((s) => sys(s)?.completedP99 ?? Number.NaN) },
      ],
    }),
  );
  const open = results.phases.filter((p) => p.group === 'open-loop');
  const acceptedCats = open.map((p) => `${p.ratePerSec ?? '?'} req/s`);
  const acceptedSeries: LatencySummary[] = open.map((p) => p.latency.accepted as LatencySummary);
  if (results.scale) {
    acceptedCats.push('idle probe', `${results.scale.inFlight} parked`);
    acceptedSeries.push(results.scale.acceptedIdle, results.scale.acceptedLoaded);
  }
  panels.push(
    panel({
      x: 0,
      y: 470,
      w: W / 2,
      h: 420,
      title: 'POST /orders: time to 202',
      unit: 'ms',
      categories: acceptedCats,
      series: [
        { name: 'p50', values: acceptedSeries.map((l) => l?.p50 ?? Number.NaN) },
        { name: 'p95', values: acceptedSeries.map((l) => l?.p95 ?? Number.NaN) },
        { name: 'p99', values: acceptedSeries.map((l) => l?.p99 ?? Number.NaN) },
      ],
      refLine: { value: 50, label: 'target p99 50 ms at 50 req/s' },
    }),
  );
  const procs = PROCESS_ORDER.filter((p) => systems.some((s) => (sys(s)?.cpuMsPerWorkflow[p] ?? 0) > 0));
  panels.push(
    panel({
      x: W / 2,
      y: 470,
      w: W / 2,
      h: 420,
      title: 'CPU per completed workflow, by process',
      unit: 'CPU ms / workflow',
      categories: cats,
      stacked: true,
      series: procs.map((p) => ({ name: p, values: systems.map((s) => sys(s)?.cpuMsPerWorkflow[p] ?? 0) })),
    }),
  );
  const { meta, summary } = results;
  const subtitle =
    `${meta.timestamp} ${meta.mode}${meta.tag ? ` (${meta.tag})` : ''} - ${meta.machine.cpus} CPUs, Node ${meta.machine.node}, ${meta.versions['temporal CLI'] ?? ''} - ` +
    `R1 ${f2(summary.r1)}, R2 ${f2(summary.r2)}, latency ours/B p50 ${f2(summary.latencyRatioP50)}x`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="10" y="24" font-size="17" font-weight="bold">harvest-to-door benchmark</text>
<text x="10" y="38" font-size="12">${esc(subtitle)}</text>
${panels.join('\n')}
</svg>
`;
}

export const RESULTS_DIR = path.join(PROJECT_ROOT, 'bench', 'results');

/**
 * Write <base>.json, <base>.md and <base>.svg into bench/results (and the same as latest.* when asked). The
 * markdown ends with bench/FINDINGS.md, the hand-written analysis and tuning log.
 */
export function writeResults(results: BenchResults, base: string, latest: boolean): void {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const findingsFile = path.join(PROJECT_ROOT, 'bench', 'FINDINGS.md');
  const findings = fs.existsSync(findingsFile) ? fs.readFileSync(findingsFile, 'utf8') : undefined;
  const files: Record<string, string> = {
    json: `${JSON.stringify(results, null, 2)}\n`,
    md: renderMarkdown(results, { findings, svgFile: `${base}.svg` }),
    svg: renderSvg(results),
  };
  for (const [ext, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(RESULTS_DIR, `${base}.${ext}`), content);
    if (latest) {
      const copy = ext === 'md' ? content.replace(`(${base}.svg)`, '(latest.svg)') : content;
      fs.writeFileSync(path.join(RESULTS_DIR, `latest.${ext}`), copy);
    }
  }
}
