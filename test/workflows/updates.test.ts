import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  cancelOrderUpdate,
  harvestCompletedSignal,
  harvestTaskId,
  reportHarvestUpdate,
  retryCarrierBookingSignal,
  retryCarrierBookingUpdate,
  statusQuery,
  type HarvestCompleted,
} from '../../src/workflows/definitions';
import { eventTypes, fullYield, gate, orderRow, parkAtOnce, type OrderHandle } from '../support/scenarios';
import { createWorkflowHarness, waitForStatus, type WorkflowHarness } from '../support/workflow-harness';

/**
 * The decisions callers wait on are Updates with validators: a refusal comes back to the caller with the
 * workflow's reason (and changes nothing), an acceptance means the workflow has it. The same decisions sent as
 * signals (the CLI recipes) go through the same functions.
 */
describe('orderFulfillment: Updates answer for the workflow', () => {
  let h: WorkflowHarness;
  beforeAll(async () => {
    h = await createWorkflowHarness();
  }, 120_000);
  afterAll(() => h?.teardown());
  afterEach(() => h.admin.clearFaults());

  /** The refusal an Update call failed with: its type, message and details. */
  async function refusal(call: Promise<unknown>): Promise<ApplicationFailure> {
    const error = await call.then(
      (value) => {
        throw new Error(`expected a refusal, the Update answered ${JSON.stringify(value)}`);
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (error as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    return cause as ApplicationFailure;
  }

  const report = (orderId: string, yields: HarvestCompleted['yields']): HarvestCompleted => ({
    taskId: harvestTaskId(orderId),
    yields,
    reportedBy: 'crew:test',
  });

  it('when a harvest report is wrong, a second one, or names SKUs or quantities the order does not have, then the validator refuses each with its reason and the order still waits', async () => {
    const input = h.order();
    const { orderId } = input;

    const outcomes = await h.place(input, async (handle) => {
      const update = (r: HarvestCompleted) => handle.executeUpdate(reportHarvestUpdate, { args: [r] });
      const wrongTask = await refusal(update({ ...report(orderId, fullYield(input)), taskId: 'hv-someone-else' }));
      const unknownSku = await refusal(update(report(orderId, [{ sku: 'STR-ALBION', quantity: 1 }])));
      const tooMany = await refusal(update(report(orderId, [{ sku: 'TOM-HEIRLOOM', quantity: 3 }])));
      const stillWaiting = await handle.query(statusQuery);
      const accepted = await update(report(orderId, fullYield(input)));
      const second = await refusal(update(report(orderId, fullYield(input))));
      return { wrongTask, unknownSku, tooMany, stillWaiting, accepted, second, result: await handle.result() };
    });

    expect(outcomes.wrongTask).toMatchObject({ type: 'WrongHarvestTask', nonRetryable: true });
    expect(outcomes.unknownSku.type).toBe('HarvestReportInvalid');
    expect(outcomes.unknownSku.details?.[0]).toEqual({
      errors: [{ path: 'yields.0.sku', message: 'STR-ALBION is not on this order' }],
    });
    expect(outcomes.tooMany.details?.[0]).toEqual({
      errors: [{ path: 'yields.0.quantity', message: 'more than the 2 ordered' }],
    });
    // Refused Updates leave no trace: the order waited on as if nothing had been sent.
    expect(outcomes.stillWaiting.status).toBe('AWAITING_HARVEST');
    expect(outcomes.stillWaiting.timeline.filter((t) => t.detail?.includes('reported by'))).toEqual([]);
    expect(outcomes.accepted).toEqual({ orderId, taskId: harvestTaskId(orderId), yields: fullYield(input) });
    expect(outcomes.second.type).toBe('HarvestAlreadyReported');
    expect(outcomes.result).toMatchObject({ orderId, status: 'COMPLETED' });
  });

  it('when the same refused report arrives as a signal, then it is ignored the same way and noted in the timeline', async () => {
    const input = h.order();
    const { orderId } = input;

    const { view, result } = await h.place(input, async (handle) => {
      await handle.signal(harvestCompletedSignal, report(orderId, [{ sku: 'TOM-HEIRLOOM', quantity: 3 }]));
      const view = await waitForStatus(handle, (v) => v.timeline.some((t) => t.detail?.startsWith('ignored')));
      await handle.signal(harvestCompletedSignal, report(orderId, fullYield(input)));
      return { view, result: await handle.result() };
    });

    expect(view.status).toBe('AWAITING_HARVEST');
    expect(view.timeline).toContainEqual(
      expect.objectContaining({
        step: 'harvest',
        state: 'info',
        detail: expect.stringMatching(/ignored: .*more than the 2 ordered/),
      }),
    );
    expect(result).toMatchObject({ status: 'COMPLETED' });
  });

  it('when a cancel Update arrives while the order waits for the harvest, then it is accepted, a second one answers alreadyCancelling, and the order is CANCELLED', async () => {
    const input = h.order();
    const { orderId } = input;
    const cancel = { reason: 'changed my mind', requestedBy: 'customer:cust-demo' };

    const { first, second, result } = await h.place(input, async (handle) => {
      const first = await handle.executeUpdate(cancelOrderUpdate, { args: [cancel] });
      const second = await handle.executeUpdate(cancelOrderUpdate, { args: [cancel] });
      return { first, second, result: await handle.result() };
    });

    expect(first).toEqual({ orderId, alreadyCancelling: false });
    expect(second).toEqual({ orderId, alreadyCancelling: true });
    expect(result).toEqual({
      orderId,
      status: 'CANCELLED',
      reason: 'Cancelled by customer:cust-demo: changed my mind',
    });
    expect((await orderRow(h, orderId))?.status).toBe('CANCELLED');
  });

  it('when a cancel Update arrives once the parcel is being handed over, then it is refused as TooLateToCancel and the order COMPLETES', async () => {
    const input = h.order();
    const { orderId } = input;
    const handover = gate();

    const { refused, result } = await h.place(
      input,
      async (handle: OrderHandle) => {
        await handle.executeUpdate(reportHarvestUpdate, { args: [report(orderId, fullYield(input))] });
        await handover.entered;
        const refused = await refusal(
          handle.executeUpdate(cancelOrderUpdate, {
            args: [{ reason: 'too late?', requestedBy: 'customer:cust-demo' }],
          }),
        );
        handover.release();
        return { refused, result: await handle.result() };
      },
      {
        activities: (real) => ({
          confirmPickup: async (args) => {
            handover.markEntered();
            await handover.released;
            return real.confirmPickup(args);
          },
        }),
      },
    );

    expect(refused).toMatchObject({ type: 'TooLateToCancel', message: expect.stringMatching(/carrier already has/) });
    expect(result).toMatchObject({ orderId, status: 'COMPLETED' });
    // A refused Update is answered, not recorded: nothing in the audit trail says a cancel happened.
    expect(await eventTypes(h, orderId)).not.toContain('CancelRefused');
  });

  it('when a retry Update arrives while the order is not parked, then it is refused as NotParked; once parked it is accepted and the order COMPLETES', async () => {
    const input = h.order();
    const { orderId } = input;

    const { early, accepted, result } = await h.place(input, async (handle) => {
      const retry = () =>
        handle.executeUpdate(retryCarrierBookingUpdate, { args: [{ requestedBy: 'ops:test', note: 'carriers back' }] });
      const early = await refusal(retry());
      await parkAtOnce(h, handle, input);
      const accepted = await retry();
      return { early, accepted, result: await handle.result() };
    });

    expect(early).toMatchObject({ type: 'NotParked', message: expect.stringMatching(/AWAITING_HARVEST/) });
    expect(accepted).toEqual({ orderId });
    expect(result).toMatchObject({ orderId, status: 'COMPLETED' });
    expect(await eventTypes(h, orderId)).toEqual(expect.arrayContaining(['OrderParked', 'CarrierRetryRequested']));
  });

  it('when a retry signal arrives while the order is not parked, then it is ignored and noted, as the Update would refuse it', async () => {
    const input = h.order();
    const view = await h.place(input, async (handle) => {
      await handle.signal(retryCarrierBookingSignal, { requestedBy: 'ops:early' });
      const view = await waitForStatus(handle, (v) => v.timeline.some((t) => t.detail?.includes('ops:early')));
      await handle.terminate('test done');
      return view;
    });
    expect(view.timeline).toContainEqual(
      expect.objectContaining({
        step: 'book-carrier',
        detail: expect.stringMatching(/ignored: retry from ops:early: .*not waiting/),
      }),
    );
  });
});
