import { createRequire } from 'node:module';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

/**
 * History <-> JSON, in the format of `temporal workflow show --output json` and the SDK's
 * `historyToJSON`/`historyFromJSON`.
 *
 * Why not just the SDK functions: in this install npm gave @temporalio/common and @temporalio/proto
 * each their own copy of protobufjs 8 (the top-level protobufjs is 7.x, for @grpc/proto-loader and
 * OpenTelemetry). The SDK functions take protojson from common's copy and the History type from
 * proto's, protojson's `instanceof Type` check fails, and both throw "TypeError: type must be a
 * Type" (so does `Worker.runReplayHistory` when handed parsed JSON). We try the SDK first and fall
 * back to the protojson of the protobufjs copy that @temporalio/proto itself uses; once the tree is
 * deduplicated (`npm dedupe`, or an `overrides` entry) the SDK path simply starts working.
 */
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

const protoJson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

function isDuplicateProtobufError(error: unknown): boolean {
  return error instanceof TypeError && /must be a Type/.test(error.message);
}

/** A history as pretty-printed proto JSON (one file per history, diff-friendly). */
export function historyToJSONText(history: History): string {
  try {
    return `${historyToJSON(history)}\n`;
  } catch (error) {
    if (!isDuplicateProtobufError(error)) throw error;
  }
  const json = protoJson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history));
  return `${JSON.stringify(json, null, 2)}\n`;
}

/**
 * A History from parsed proto JSON. The fallback expects canonical enum names
 * (`EVENT_TYPE_WORKFLOW_EXECUTION_STARTED`), which is what this module and the Temporal CLI write.
 */
export function historyFromJSONValue(json: unknown): History {
  try {
    return historyFromJSON(json);
  } catch (error) {
    if (!isDuplicateProtobufError(error)) throw error;
  }
  const history = protoJson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History | null;
  if (!history?.events?.length) throw new TypeError('Invalid history: no events');
  return history;
}
