import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import { PROJECT_ROOT } from './binaries';

/**
 * Worker Deployment Versioning: every worker declares the deployment it belongs to and the build it runs, and the
 * server routes each workflow task to the build the run is on.
 *
 * Orders use AUTO_UPGRADE: an order waits days for its harvest (up to 30), far longer than one build of the worker
 * is deployed, so a waiting order moves to the deployment's current build on its next workflow task. PINNED would
 * keep every build's workers running until its last order finished, weeks after each rollout. The price of
 * AUTO_UPGRADE is that a change waiting orders will meet must replay their histories: it goes behind `patched()`,
 * and the replay tests replay the histories of every build still running (README, "Shipping a change to the
 * workflow").
 */
export function workerDeploymentOptions(deploymentName: string, buildId: string): WorkerDeploymentOptions {
  return {
    useWorkerVersioning: true,
    version: { deploymentName, buildId },
    defaultVersioningBehavior: 'AUTO_UPGRADE',
  };
}

/** The part of the workflow service (a client's, or a worker's NativeConnection's) this module needs. */
interface DeploymentService {
  setWorkerDeploymentCurrentVersion(request: {
    namespace: string;
    deploymentName: string;
    buildId: string;
    identity?: string;
  }): Promise<unknown>;
}

/**
 * Make `buildId` the deployment's current version, so new orders start on it and waiting ones move to it. The
 * version exists once one of its workers has polled, so this retries until then (or `timeoutMs`).
 */
export async function setCurrentVersion(
  service: DeploymentService,
  options: { namespace: string; deploymentName: string; buildId: string; identity: string; timeoutMs?: number },
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    try {
      await service.setWorkerDeploymentCurrentVersion({
        namespace: options.namespace,
        deploymentName: options.deploymentName,
        buildId: options.buildId,
        identity: options.identity,
      });
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(
          `Could not make build ${options.buildId} the current version of deployment ${options.deploymentName}`,
          { cause: error },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
      return entry.name.endsWith('.ts') ? [full] : [];
    })
    .sort();
}

/**
 * The build ID `npm start` gives its worker when none is configured: a hash of the worker's source, so an edited
 * workflow or activity is a new build (and waiting orders move to it), while an unchanged checkout keeps its build
 * across restarts.
 */
export function localBuildId(root = path.join(PROJECT_ROOT, 'src')): string {
  const hash = createHash('sha256');
  for (const file of sourceFiles(root)) {
    hash.update(path.relative(root, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  return `local-${hash.digest('hex').slice(0, 12)}`;
}
