/** chaos/results/<profile>.json and .md: what was driven, what was broken, what held. */
import { execFileSync } from 'node:child_process';
import type { SessionResult } from './session';

/** The code the run exercised: HEAD, and whether the working tree had uncommitted changes. */
export function gitState(): { commit: string; dirty: boolean } {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      dirty: git('status', '--porcelain', '--untracked-files=no') !== '',
    };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

export interface RunReport {
  profile: string;
  seeds: number[];
  startedAt: string;
  git: { commit: string; dirty: boolean };
  runtimeSec: number;
  node: string;
  cores: number;
  totals: {
    ordersDriven: number;
    ordersAccepted: number;
    byStatus: Record<string, number>;
    faults: Record<string, number>;
    operations: Record<string, number>;
    violations: number;
    replayedHistories: number;
    determinismErrors: number;
    unexpectedExits: number;
    maxTimeToSettleSec: number | null;
  };
  sessions: SessionResult[];
}

function add(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export function buildReport(
  profile: string,
  startedAt: Date,
  git: RunReport['git'],
  sessions: SessionResult[],
  cores: number,
): RunReport {
  const byStatus: Record<string, number> = {};
  const faults: Record<string, number> = {};
  const operations: Record<string, number> = {};
  for (const s of sessions) {
    add(byStatus, s.orders.byStatus);
    add(faults, s.faults);
    add(operations, s.operations);
  }
  const settles = sessions.map((s) => s.settle.timeToSettleSec);
  return {
    profile,
    seeds: sessions.map((s) => s.seed),
    startedAt: startedAt.toISOString(),
    git,
    runtimeSec: Math.round((Date.now() - startedAt.getTime()) / 1000),
    node: process.version,
    cores,
    totals: {
      ordersDriven: sessions.reduce((n, s) => n + s.orders.driven, 0),
      ordersAccepted: sessions.reduce((n, s) => n + s.orders.accepted, 0),
      byStatus,
      faults,
      operations,
      violations: sessions.reduce((n, s) => n + s.violations.length, 0),
      replayedHistories: sessions.reduce((n, s) => n + s.replay.histories, 0),
      determinismErrors: sessions.reduce((n, s) => n + s.replay.determinismErrors, 0),
      unexpectedExits: sessions.reduce((n, s) => n + s.unexpectedExits.length, 0),
      maxTimeToSettleSec: settles.some((x) => x === null) ? null : Math.max(...(settles as number[])),
    },
    sessions,
  };
}

const table = (rows: [string, string | number][]): string =>
  ['| what | count |', '| --- | ---: |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');

export function renderMarkdown(report: RunReport): string {
  const t = report.totals;
  const out: string[] = [];
  out.push(`# Chaos run: ${report.profile}`);
  out.push('');
  out.push(
    `Commit \`${report.git.commit}\`${report.git.dirty ? ' (with uncommitted changes)' : ''}; ` +
      `seeds ${report.seeds.join(', ')}; started ${report.startedAt}; runtime ${Math.round(report.runtimeSec / 60)} min ` +
      `(${report.runtimeSec}s) on ${report.cores} cores, Node ${report.node}. Reproduce: \`npm run chaos -- ` +
      `${report.profile === 'short' ? '--short ' : ''}--seeds ${report.seeds.join(',')}\`.`,
  );
  out.push('');
  out.push(
    `**${t.violations} invariant violation(s)**; ${t.ordersAccepted} of ${t.ordersDriven} orders accepted; ` +
      `${t.replayedHistories} histories replayed, ${t.determinismErrors} determinism errors; longest settle ` +
      `${t.maxTimeToSettleSec ?? 'NOT SETTLED'}s; ${t.unexpectedExits} unplanned process exits.`,
  );
  out.push('');
  out.push('## Orders by final status');
  out.push('');
  out.push(table(Object.entries(t.byStatus).sort()));
  out.push('');
  out.push('## Faults injected');
  out.push('');
  out.push(table(Object.entries(t.faults).sort()));
  out.push('');
  out.push('## Operations (customers, crews, operators)');
  out.push('');
  out.push(table(Object.entries(t.operations).sort()));
  out.push('');
  out.push('## Recovery paths exercised');
  out.push('');
  const recoveries: Record<string, number> = {};
  for (const s of report.sessions) add(recoveries, s.invariants.recoveries);
  out.push(table(Object.entries(recoveries).sort()));
  out.push('');
  out.push('## Sessions');
  out.push('');
  out.push(
    '| seed | orders (accepted) | runtime | quiesce | settle | settle after resets | bound | parked retried/cancelled | histories | violations | unplanned exits |',
  );
  out.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of report.sessions) {
    out.push(
      `| ${s.seed} | ${s.orders.driven} (${s.orders.accepted}) | ${s.runtimeSec}s | ${s.settle.timeToQuiesceSec ?? '-'}s | ` +
        `${s.settle.timeToSettleSec ?? 'NOT SETTLED'}s | ${s.settle.afterResetsSec ?? '-'}s | ${s.settle.boundSec}s | ` +
        `${s.settle.parkedRetried}/${s.settle.parkedCancelled} | ${s.replay.histories} | ${s.violations.length} | ${s.unexpectedExits.length} |`,
    );
  }
  out.push('');
  out.push('## Invariants checked');
  out.push('');
  const checked: Record<string, number> = {};
  for (const s of report.sessions) add(checked, s.invariants.checked);
  const failed: Record<string, number> = {};
  for (const s of report.sessions) for (const v of s.violations) failed[v.invariant] = (failed[v.invariant] ?? 0) + 1;
  out.push('| invariant | checks | violations |');
  out.push('| --- | ---: | ---: |');
  for (const name of [...new Set([...Object.keys(checked), ...Object.keys(failed)])].sort()) {
    out.push(`| ${name} | ${checked[name] ?? '-'} | ${failed[name] ?? 0} |`);
  }
  out.push('');
  out.push('## Money and stock (last session)');
  out.push('');
  const last = report.sessions[report.sessions.length - 1];
  if (last) {
    const m = last.invariants.money;
    out.push(
      `Gateway: charged ${m.chargedCents} cents, refunded ${m.refundedCents}, revenue of fulfilled orders ${m.revenueCents}. ` +
        `Labels: ${last.invariants.labels.pickedUp} picked up, ${last.invariants.labels.voided} voided, ${last.invariants.labels.booked} booked.`,
    );
    out.push('');
    out.push('| sku | initial | adjust | available | reserved | consumed | returned | shipped | shortfall |');
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const l of last.invariants.stock) {
      out.push(
        `| ${l.sku} | ${l.initial} | ${l.adjustments} | ${l.available} | ${l.reserved} | ${l.consumed} | ${l.returned} | ${l.shipped} | ${l.shortfall} |`,
      );
    }
    out.push('');
    out.push('Workflow outcome per read-model status:');
    out.push('');
    out.push(table(Object.entries(last.invariants.workflowOutcomes).sort()));
    out.push('');
  }
  if (t.violations > 0) {
    out.push('## Violations');
    out.push('');
    for (const s of report.sessions) {
      for (const v of s.violations.slice(0, 100)) {
        out.push(`- seed ${s.seed}: **${v.invariant}**${v.orderId ? ` (order ${v.orderId})` : ''}: ${v.detail}`);
      }
      if (s.violations.length > 100) out.push(`- seed ${s.seed}: ... ${s.violations.length - 100} more in the JSON`);
    }
    out.push('');
  }
  const exits = report.sessions.flatMap((s) => s.unexpectedExits.map((e) => ({ seed: s.seed, ...e })));
  if (exits.length > 0) {
    out.push('## Unplanned process exits (restarted by the supervisor)');
    out.push('');
    for (const e of exits.slice(0, 30)) out.push(`- seed ${e.seed}: ${e.name} at ${e.at}: ${e.detail.split('\n')[0]}`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
