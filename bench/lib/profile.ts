/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`): where the worker's and the API's CPU time goes,
 * by function (self time) and by package.
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  process: string;
  sampledSeconds: number;
  /** Sampled time the main thread was busy (not idle); shares below are of this. */
  busySeconds: number;
  /** Share of busy samples (0..1) per bucket: a package, node internals, project code, GC, idle. */
  byPackage: { name: string; share: number; seconds: number }[];
  /**
   * The same, with time spent in Node's internals and native code charged to the nearest package or project file
   * up the stack that called it (so "node internals" spent writing a log line counts for pino).
   */
  byCaller: { name: string; share: number; seconds: number }[];
  topSelf: { fn: string; where: string; share: number; seconds: number }[];
}

function bucketOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return '(garbage collector)';
    if (functionName === '(program)') return '(program: native, incl. Temporal core bridge)';
    return `(native) ${functionName}`;
  }
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/src/generated/')) return 'project: src/generated (Prisma client)';
  if (url.includes('/src/')) return 'project: src';
  if (url.includes('/bench/')) return 'project: bench';
  return url;
}

export function summarizeProfile(file: string): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const sampled = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  let idle = 0;
  for (const [id, us] of selfUs) if (byId.get(id)?.callFrame.functionName === '(idle)') idle += us;
  const total = Math.max(1, sampled - idle);
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const isInternal = (bucket: string) =>
    bucket === 'node internals' || bucket.startsWith('(native)') || bucket.startsWith('(program');
  const callerOf = (id: number): string => {
    const own = bucketOf(byId.get(id)?.callFrame ?? { functionName: '', url: '', lineNumber: 0 });
    if (!isInternal(own)) return own;
    for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
      const frame = byId.get(up)?.callFrame;
      if (!frame) break;
      const bucket = bucketOf(frame);
      if (!isInternal(bucket) && frame.functionName !== '(root)') return bucket;
    }
    return own;
  };
  const callers = new Map<string, number>();
  const buckets = new Map<string, number>();
  const functions = new Map<string, { fn: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') continue;
    const bucket = bucketOf(frame);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + us);
    const caller = callerOf(id);
    callers.set(caller, (callers.get(caller) ?? 0) + us);
    const where = frame.url
      ? `${frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')}:${frame.lineNumber + 1}`
      : '';
    const key = `${frame.functionName}@${where}`;
    const entry = functions.get(key) ?? { fn: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  return {
    process: path.basename(file).replace(/\.cpuprofile$/, ''),
    sampledSeconds: sampled / 1e6,
    busySeconds: total / 1e6,
    byPackage: [...buckets]
      .map(([name, us]) => ({ name, share: us / total, seconds: us / 1e6 }))
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, 15),
    byCaller: [...callers]
      .map(([name, us]) => ({ name, share: us / total, seconds: us / 1e6 }))
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, 15),
    topSelf: [...functions.values()]
      .map((f) => ({ fn: f.fn, where: f.where, share: f.us / total, seconds: f.us / 1e6 }))
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, 20),
  };
}

/** Every thread's profile, per process folder (bench/lib/stack.ts), busiest first; threads busy under 0.5 s are left out. */
export function summarizeProfiles(dir: string): ProfileSummary[] {
  if (!fs.existsSync(dir)) return [];
  const out: ProfileSummary[] = [];
  for (const name of fs.readdirSync(dir)) {
    const folder = path.join(dir, name);
    if (!fs.statSync(folder).isDirectory()) continue;
    const summaries = fs
      .readdirSync(folder)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => summarizeProfile(path.join(folder, f)))
      .sort((a, b) => b.busySeconds - a.busySeconds);
    summaries.forEach((summary, i) => {
      // Profile files are CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
      const thread = /\.\d+\.(\d+)\.\d+$/.exec(summary.process)?.[1];
      const label = thread === '0' ? 'main thread' : `thread ${thread ?? i}`;
      if (summary.busySeconds >= 0.5 || i === 0) out.push({ ...summary, process: `${name}, ${label}` });
    });
  }
  return out;
}
