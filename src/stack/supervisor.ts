/**
 * The process supervisor behind every way of running the stack: `npm start`, the benchmark, the chaos suite and
 * the cluster launcher. It owns the child processes (each with its own log file), relays their output to the
 * terminal when asked, waits for each to be ready, stops everything in reverse order of start, kills and restarts
 * a process by name, and decides what happens when one dies on its own.
 *
 * Processes stay separate OS processes on purpose: the benchmark measures each one's CPU by pid, and the chaos suite
 * SIGKILLs them one by one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/binaries';
import { waitForPort } from '../lib/net';

/**
 * What happens when a process exits while nobody asked it to:
 * - `stop`: stop everything (`npm start`: one dead process means the stack is broken; the benchmark: its figures
 *   would be wrong);
 * - `restart`: record it and start the process again after `restartDelayMs` (the chaos suite: the run goes on and the
 *   report counts the exit).
 */
export type ExitPolicy = 'stop' | 'restart';

/** One exit nobody asked for. */
export interface UnexpectedExit {
  name: string;
  at: string;
  /** Exit code and signal, then the last lines the process printed. */
  detail: string;
}

/** How the supervisor knows a process is ready for work. */
export interface Readiness {
  /** Something listens on this TCP port. */
  port?: { port: number; host?: string };
  /** The process printed this text (e.g. a log message). */
  line?: string;
  /** A probe that resolves true once the process is ready; polled every `pollMs`. */
  check?: (process: ManagedProcess) => Promise<boolean>;
  pollMs?: number;
  /** Default 60 s. */
  timeoutMs?: number;
}

/** A child process to run. */
export interface ProcessSpec {
  /** Unique within the supervisor: the log file is `<logDir>/<name>.log`. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user and group (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  ready?: Readiness;
  /** The signal of a graceful stop (default SIGTERM; PostgreSQL's fast shutdown is SIGINT). */
  stopSignal?: NodeJS.Signals;
  /** How long a graceful stop may take before SIGKILL (default 20 s). */
  stopGraceMs?: number;
  /** Relay this process's output to the terminal (when the supervisor has a relay). Default true. */
  relay?: boolean;
}

/** Something the supervisor stops in turn that is not a child process: a client connection, a timer. */
export interface Resource {
  name: string;
  stop: () => Promise<void> | void;
}

export interface SupervisorOptions {
  /** Folder of the log files (created). */
  logDir: string;
  onUnexpectedExit: ExitPolicy;
  /** Default 1 s. */
  restartDelayMs?: number;
  /** Called with every line a relayed process prints (see `terminalRelay`). */
  relay?: (name: string, line: string) => void;
  /** Told about every unexpected exit, before the policy acts. */
  onExit?: (exit: UnexpectedExit) => void;
}

/** Thrown by readiness waits when the supervisor stops (or the process dies) before the process was ready. */
export class NotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotReadyError';
  }
}

const TAIL_CHARS = 4_000;

/** A child process the supervisor started: start, stop, kill and restart it, read its pid and its last output. */
export class ManagedProcess {
  child: ChildProcess | undefined;
  /** Set while it is kept down on purpose (killed or stopped, not yet started again). */
  down = false;
  /** How many times it was started. */
  starts = 0;
  /** The last few thousand characters it printed. */
  tail = '';
  private exited: Promise<void> = Promise.resolve();
  private expectingExit = false;
  private readySettled: Promise<void> = Promise.resolve();
  /** The current run printed the readiness line. */
  private sawReadyLine = false;

  constructor(
    readonly spec: ProcessSpec,
    private readonly supervisor: Supervisor,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get logFile(): string {
    return path.join(this.supervisor.logDir, `${this.name}.log`);
  }

  /** Spawn it (no-op while it runs); `ready()` then waits for its readiness. */
  start(): void {
    if (this.running) return;
    if (this.supervisor.stopping) throw new NotReadyError(`${this.name}: the stack is stopping`);
    this.down = false;
    this.expectingExit = false;
    this.starts += 1;
    this.tail = '';
    this.sawReadyLine = false;
    const out = fs.createWriteStream(this.logFile, { flags: 'a' });
    if (this.starts > 1) out.write(`\n==== start #${this.starts} at ${new Date().toISOString()}\n`);
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd ?? PROJECT_ROOT,
      env: this.spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(this.spec.uid !== undefined ? { uid: this.spec.uid, gid: this.spec.gid } : {}),
    });
    this.child = child;
    let partial = '';
    const relay = this.spec.relay !== false ? this.supervisor.relayLine : undefined;
    const onData = (chunk: Buffer) => {
      out.write(chunk);
      const text = chunk.toString('utf8');
      const readyLine = this.spec.ready?.line;
      // Checked against the tail, so a line split over two chunks is still seen.
      if (readyLine && (this.tail.slice(-readyLine.length) + text).includes(readyLine)) this.sawReadyLine = true;
      this.tail = (this.tail + text).slice(-TAIL_CHARS);
      if (!relay) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) relay(this.name, line);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        out.end(this.starts > 1 ? `==== exit code ${code} signal ${signal} at ${new Date().toISOString()}\n` : '');
        if (!this.expectingExit) this.supervisor.exitedUnexpectedly(this, `code ${code}, signal ${signal}`);
        resolve();
      }),
    );
    // A spawn failure (ENOENT, EACCES) arrives as 'error' and then 'exit'; the exit handler reports it.
    child.once('error', (error) => {
      this.tail = `${this.tail}\n${error.message}`.slice(-TAIL_CHARS);
    });
    this.readySettled = this.waitReady(child);
    this.readySettled.catch(() => undefined);
  }

  /** Resolves once the current run is ready; rejects when it exits first or the supervisor stops. */
  ready(): Promise<void> {
    return this.readySettled;
  }

  /** Send a signal and wait for the exit (SIGKILL after `graceMs`); it stays down until start(). */
  async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = this.spec.stopGraceMs ?? 20_000): Promise<void> {
    this.down = true;
    if (!this.running || !this.child) return;
    this.expectingExit = true;
    const child = this.child;
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.kill(signal);
    await this.exited;
    clearTimeout(timer);
  }

  /** Graceful stop with the process's own stop signal. */
  stop(): Promise<void> {
    return this.kill(this.spec.stopSignal ?? 'SIGTERM');
  }

  /** Stop (gracefully) and start again; resolves once it is ready. */
  async restart(): Promise<void> {
    await this.stop();
    this.start();
    await this.ready();
  }

  /** Synchronous last resort at process exit. */
  killNow(): void {
    if (!this.running) return;
    this.expectingExit = true;
    this.child?.kill('SIGKILL');
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const ready = this.spec.ready;
    if (!ready) return;
    const timeoutMs = ready.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const gone = () => child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
    const failIfGone = () => {
      if (this.supervisor.stopping) throw new NotReadyError(`${this.name}: the stack stopped before it was ready`);
      if (gone()) throw new NotReadyError(`${this.name} exited before it was ready; see ${this.logFile}\n${this.tail}`);
      if (Date.now() > deadline) {
        throw new NotReadyError(`${this.name} was not ready within ${timeoutMs} ms; see ${this.logFile}\n${this.tail}`);
      }
    };
    const poll = async (probe: () => Promise<boolean>) => {
      for (;;) {
        failIfGone();
        if (await probe().catch(() => false)) return;
        await sleep(ready.pollMs ?? 100);
      }
    };
    if (ready.port) {
      const { port, host = '127.0.0.1' } = ready.port;
      await poll(() => waitForPort(port, host, 0).then(() => true));
    }
    if (ready.line) {
      await poll(async () => this.sawReadyLine);
    }
    if (ready.check) {
      const check = ready.check;
      await poll(() => check(this));
    }
    failIfGone();
  }
}

/** Starts, watches and stops the processes and resources of one stack. */
export class Supervisor {
  readonly logDir: string;
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** In start order: processes and resources. */
  private readonly items: (ManagedProcess | Resource)[] = [];
  private stoppingPromise: Promise<void> | undefined;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly killAtExit = () => this.killNow();

  constructor(private readonly options: SupervisorOptions) {
    this.logDir = options.logDir;
    fs.mkdirSync(this.logDir, { recursive: true });
    // Whatever happens to this process, no child outlives it.
    process.once('exit', this.killAtExit);
  }

  /** True from the moment stop() was called (by the caller or by the exit policy). */
  get stopping(): boolean {
    return this.stoppingPromise !== undefined;
  }

  /** Resolves when a stop (asked for or caused by the exit policy) has finished. */
  get stopped(): Promise<void> | undefined {
    return this.stoppingPromise;
  }

  readonly relayLine = (name: string, line: string): void => {
    if (!this.stopping) this.options.relay?.(name, line);
  };

  /** Start a child process and return it at once (await `ready()` for its readiness). */
  spawn(spec: ProcessSpec): ManagedProcess {
    if (this.find(spec.name)) throw new Error(`a process named ${spec.name} is already supervised`);
    const managed = new ManagedProcess(spec, this);
    this.items.push(managed);
    managed.start();
    return managed;
  }

  /** Start a child process and wait until it is ready. */
  async run(spec: ProcessSpec): Promise<ManagedProcess> {
    const managed = this.spawn(spec);
    await managed.ready();
    return managed;
  }

  /** Register something to stop in turn (reverse order of registration, like the processes). */
  add(resource: Resource): void {
    this.items.push(resource);
  }

  /** The supervised process called `name`. */
  get(name: string): ManagedProcess {
    const found = this.find(name);
    if (!found) throw new Error(`no supervised process named ${name}`);
    return found;
  }

  processes(): ManagedProcess[] {
    return this.items.filter((item): item is ManagedProcess => item instanceof ManagedProcess);
  }

  /** Kill a process by name (SIGKILL by default); it stays down until `start(name)`. */
  kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.get(name).kill(signal);
  }

  /** Start a process that was killed or stopped again, and wait until it is ready. */
  async start(name: string): Promise<void> {
    const managed = this.get(name);
    managed.start();
    await managed.ready();
  }

  /** Stop everything, newest first; safe to call more than once (every call gets the same promise). */
  stop(): Promise<void> {
    this.stoppingPromise ??= (async () => {
      for (const timer of this.restartTimers) clearTimeout(timer);
      for (const item of [...this.items].reverse()) {
        try {
          await item.stop();
        } catch (error) {
          console.error(`failed to stop ${item.name}:`, error);
        }
      }
      process.off('exit', this.killAtExit);
    })();
    return this.stoppingPromise;
  }

  /** SIGKILL every child now (synchronous: for process exit). */
  killNow(): void {
    for (const managed of this.processes()) managed.killNow();
  }

  /** Called by a ManagedProcess whose exit nobody asked for. */
  exitedUnexpectedly(managed: ManagedProcess, status: string): void {
    if (this.stopping) return;
    const exit: UnexpectedExit = {
      name: managed.name,
      at: new Date().toISOString(),
      detail: `${status}; log ${managed.logFile}\n${managed.tail.slice(-1500)}`,
    };
    this.unexpectedExits.push(exit);
    this.options.onExit?.(exit);
    if (this.options.onUnexpectedExit === 'stop') {
      void this.stop();
      return;
    }
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.stopping || managed.down || managed.running) return;
      managed.start();
      managed.ready().catch(() => undefined);
    }, this.options.restartDelayMs ?? 1_000);
    this.restartTimers.add(timer);
  }

  private find(name: string): ManagedProcess | undefined {
    return this.processes().find((managed) => managed.name === name);
  }
}

/**
 * A relay for a terminal: JSON log lines (pino's, the Temporal server's) condensed to `[name] message`, info and
 * above for pino (numeric levels), errors only for the Temporal server (word levels); other lines as they are,
 * except the Temporal server's unstructured chatter.
 */
export function terminalRelay(print: (text: string) => void = console.log): (name: string, line: string) => void {
  return (name, line) => {
    try {
      const entry = JSON.parse(line) as { level?: number | string; msg?: string };
      const shown =
        typeof entry.level === 'number' ? entry.level >= 30 : entry.level === 'error' || entry.level === 'fatal';
      if (shown && entry.msg) print(`[${name}] ${entry.msg}`);
    } catch {
      if (!name.startsWith('temporal')) print(`[${name}] ${line}`);
    }
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
