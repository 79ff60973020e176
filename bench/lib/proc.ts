/**
 * CPU time and memory of the processes under test, read from /proc (Linux only).
 *
 * - CPU: utime + stime of the process (fields 14, 15 of /proc/<pid>/stat). For a process tree
 *   (PostgreSQL: postmaster + one backend per connection + helpers) it is the sum over the live
 *   descendants plus the root's cutime + cstime, i.e. the CPU of backends that already exited.
 * - Memory: VmRSS of a single process; for a tree the sum of PSS (proportional set size from
 *   /proc/<pid>/smaps_rollup), so PostgreSQL's shared buffers are counted once, not once per backend.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const CLK_TCK = (() => {
  try {
    return Number.parseInt(execFileSync('getconf', ['CLK_TCK']).toString().trim(), 10) || 100;
  } catch {
    return 100;
  }
})();

export interface MonitorTarget {
  name: string;
  pid: number;
  /** Include every descendant (PostgreSQL backends). */
  tree?: boolean;
}

export interface ProcReading {
  /** CPU seconds consumed since the process started. */
  cpuSec: number;
  /** Resident memory in bytes (RSS, or summed PSS for a tree). */
  memBytes: number;
  /** Processes counted (1, or the size of the tree). */
  processes: number;
}

interface StatFields {
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

function readStat(pid: number): StatFields | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); field n is fields[n - 3].
    const num = (n: number) => Number(fields[n - 3]);
    return { ppid: num(4), utime: num(14), stime: num(15), cutime: num(16), cstime: num(17) };
  } catch {
    return undefined;
  }
}

function readStatusKb(pid: number, key: string): number | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function readPssKb(pid: number): number | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB/m.exec(text);
    return match ? Number(match[1]) : readStatusKb(pid, 'VmRSS');
  } catch {
    return readStatusKb(pid, 'VmRSS');
  }
}

function childrenOf(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
    return out;
  } catch {
    // No /proc/<pid>/task/<tid>/children on this kernel: scan every process for its parent.
    const out: number[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      if (readStat(Number(entry))?.ppid === pid) out.push(Number(entry));
    }
    return out;
  }
}

function descendants(root: number): number[] {
  const all: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const child of childrenOf(pid)) {
      all.push(child);
      queue.push(child);
    }
  }
  return all;
}

export function readProcess(target: MonitorTarget): ProcReading | undefined {
  const root = readStat(target.pid);
  if (!root) return undefined;
  if (!target.tree) {
    return {
      cpuSec: (root.utime + root.stime) / CLK_TCK,
      memBytes: (readStatusKb(target.pid, 'VmRSS') ?? 0) * 1024,
      processes: 1,
    };
  }
  let ticks = root.utime + root.stime + root.cutime + root.cstime;
  let memKb = readPssKb(target.pid) ?? 0;
  const kids = descendants(target.pid);
  for (const pid of kids) {
    const stat = readStat(pid);
    if (!stat) continue;
    ticks += stat.utime + stat.stime;
    memKb += readPssKb(pid) ?? 0;
  }
  return { cpuSec: ticks / CLK_TCK, memBytes: memKb * 1024, processes: 1 + kids.length };
}

/** Peak RSS over the life of a single process (VmHWM), in bytes. */
export function peakRss(pid: number): number | undefined {
  const kb = readStatusKb(pid, 'VmHWM');
  return kb === undefined ? undefined : kb * 1024;
}

export interface ProcessUsage {
  /** CPU seconds used during the window. */
  cpuSec: number;
  /** Highest memory sample during the window (bytes). */
  peakMemBytes: number;
  /** Memory at the end of the window (bytes). */
  endMemBytes: number;
}

export type UsageByProcess = Record<string, ProcessUsage>;

/**
 * Samples every target every `intervalMs`; windows (phases) are measured between two marks, so
 * each phase gets the CPU it used and the highest memory seen while it ran.
 */
export class ProcessMonitor {
  private readonly targets: MonitorTarget[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Open windows, each with the highest memory seen per target since it opened. */
  private readonly windows = new Set<Map<string, number>>();
  private last = new Map<string, ProcReading>();

  constructor(private readonly intervalMs = 500) {}

  add(target: MonitorTarget): void {
    this.targets.push(target);
  }

  names(): string[] {
    return this.targets.map((t) => t.name);
  }

  start(): void {
    this.timer ??= setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Read every target now; remembers the reading and raises the window peaks. */
  sample(): Map<string, ProcReading> {
    const now = new Map<string, ProcReading>();
    for (const target of this.targets) {
      const reading = readProcess(target);
      if (!reading) continue;
      now.set(target.name, reading);
      this.last.set(target.name, reading);
      for (const peaks of this.windows) peaks.set(target.name, Math.max(peaks.get(target.name) ?? 0, reading.memBytes));
    }
    return now;
  }

  /** Open a window; the returned function closes it and returns what each process used within it. */
  window(): () => UsageByProcess {
    const peaks = new Map<string, number>();
    this.windows.add(peaks);
    const startReadings = this.sample();
    return () => {
      const endReadings = this.sample();
      this.windows.delete(peaks);
      const usage: UsageByProcess = {};
      for (const [name, end] of endReadings) {
        const start = startReadings.get(name);
        usage[name] = {
          cpuSec: start ? end.cpuSec - start.cpuSec : end.cpuSec,
          peakMemBytes: peaks.get(name) ?? end.memBytes,
          endMemBytes: end.memBytes,
        };
      }
      return usage;
    };
  }

  /** Latest memory reading of one target (bytes). */
  memOf(name: string): number | undefined {
    return this.last.get(name)?.memBytes;
  }
}
