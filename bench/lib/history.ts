/**
 * What workflow histories say about a run: events per workflow (our proxy for state transitions:
 * every history event is one persisted state change on the server), workflow tasks, and per
 * activity the round trip ActivityTaskScheduled -> ActivityTaskCompleted, split into queue time
 * (Scheduled -> Started) and execution (Started -> Completed).
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { mapLimit } from './load';
import { summarize, type LatencySummary } from './stats';

const E = temporal.api.enums.v1.EventType;

type Event = temporal.api.history.v1.IHistoryEvent;

function timeMs(event: Event | undefined): number {
  const t = event?.eventTime;
  if (!t) return Number.NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

export interface HistoryDigest {
  events: number;
  workflowTasks: number;
  activities: number;
  signals: number;
  /** Event type name (without EVENT_TYPE_) -> count. */
  byType: Record<string, number>;
  /** First event to last event, ms. */
  durationMs: number;
  /** WorkflowTaskScheduled -> WorkflowTaskCompleted, ms each. */
  workflowTaskRoundTrips: number[];
  /** Activity type -> { roundTrip, queue, execution } samples in ms. */
  activities_: Record<string, { roundTrip: number[]; queue: number[]; execution: number[] }>;
}

export function digest(events: Event[]): HistoryDigest {
  const byId = new Map<number, Event>();
  for (const event of events) byId.set(Number(event.eventId), event);
  const out: HistoryDigest = {
    events: events.length,
    workflowTasks: 0,
    activities: 0,
    signals: 0,
    byType: {},
    durationMs: timeMs(events.at(-1)) - timeMs(events[0]),
    workflowTaskRoundTrips: [],
    activities_: {},
  };
  for (const event of events) {
    const typeName = (E[event.eventType ?? 0] ?? String(event.eventType)).replace(/^EVENT_TYPE_/, '');
    out.byType[typeName] = (out.byType[typeName] ?? 0) + 1;
    switch (event.eventType) {
      case E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: {
        out.workflowTasks++;
        const scheduled = byId.get(Number(event.workflowTaskCompletedEventAttributes?.scheduledEventId));
        out.workflowTaskRoundTrips.push(timeMs(event) - timeMs(scheduled));
        break;
      }
      case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        out.activities++;
        break;
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        out.signals++;
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const attrs = event.activityTaskCompletedEventAttributes;
        const scheduled = byId.get(Number(attrs?.scheduledEventId));
        const started = byId.get(Number(attrs?.startedEventId));
        const name = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'unknown';
        const slot = (out.activities_[name] ??= { roundTrip: [], queue: [], execution: [] });
        slot.roundTrip.push(timeMs(event) - timeMs(scheduled));
        slot.queue.push(timeMs(started) - timeMs(scheduled));
        slot.execution.push(timeMs(event) - timeMs(started));
        break;
      }
      default:
        break;
    }
  }
  return out;
}

export interface HistoryReport {
  sampled: number;
  eventsPerWorkflow: number;
  workflowTasksPerWorkflow: number;
  activitiesPerWorkflow: number;
  signalsPerWorkflow: number;
  /** Mean count per workflow of each event type. */
  eventsByType: Record<string, number>;
  workflowTaskRoundTripMs: LatencySummary;
  /** Per activity type: round trip, queue and execution (ms). */
  activities: Record<string, { roundTrip: LatencySummary; queue: LatencySummary; execution: LatencySummary }>;
}

/** Fetch and digest the histories of up to `limit` workflows (spread evenly over the list). */
export async function sampleHistories(client: Client, workflowIds: readonly string[], limit: number) {
  const step = Math.max(1, Math.floor(workflowIds.length / Math.max(1, limit)));
  const chosen = workflowIds.filter((_, i) => i % step === 0).slice(0, limit);
  const digests = await mapLimit(chosen, 8, async (id) => {
    const history = await client.workflow.getHandle(id).fetchHistory();
    return digest(history.events ?? []);
  });
  return digests;
}

export function combine(digests: readonly HistoryDigest[]): HistoryReport | undefined {
  if (digests.length === 0) return undefined;
  const mean = (pick: (d: HistoryDigest) => number) => digests.reduce((sum, d) => sum + pick(d), 0) / digests.length;
  const activities: HistoryReport['activities'] = {};
  const names = [...new Set(digests.flatMap((d) => Object.keys(d.activities_)))];
  for (const name of names) {
    const pick = (key: 'roundTrip' | 'queue' | 'execution') => digests.flatMap((d) => d.activities_[name]?.[key] ?? []);
    activities[name] = {
      roundTrip: summarize(pick('roundTrip')),
      queue: summarize(pick('queue')),
      execution: summarize(pick('execution')),
    };
  }
  return {
    sampled: digests.length,
    eventsPerWorkflow: mean((d) => d.events),
    workflowTasksPerWorkflow: mean((d) => d.workflowTasks),
    activitiesPerWorkflow: mean((d) => d.activities),
    signalsPerWorkflow: mean((d) => d.signals),
    eventsByType: Object.fromEntries(
      [...new Set(digests.flatMap((d) => Object.keys(d.byType)))].map((t) => [t, mean((d) => d.byType[t] ?? 0)]),
    ),
    workflowTaskRoundTripMs: summarize(digests.flatMap((d) => d.workflowTaskRoundTrips)),
    activities,
  };
}
