import type { WorkflowHandle } from '@temporalio/client';
import { ENCRYPTED_ENCODING } from '../../src/codec/codec';
import { statusQuery } from '../../src/workflows/definitions';
import { failuresOf, payloadsOf, plaintextPayloads } from '../support/history-payloads';
import { reportHarvest, workflowFailure } from '../support/scenarios';
import { createWorkflowHarness, type WorkflowHarness } from '../support/workflow-harness';

/**
 * What Temporal stores for an order, read back raw (without the codec): every payload the workflow, its activities,
 * its signals and its queries produce is encrypted, and every failure keeps its message and stack trace only in its
 * encrypted attributes. The client, with the codec, still reads all of it.
 */
describe('what Temporal stores for an order', () => {
  let h: WorkflowHarness;
  beforeAll(async () => {
    h = await createWorkflowHarness();
  }, 120_000);
  afterAll(() => h?.teardown());

  const rawHistory = async (handle: WorkflowHandle) => {
    const { history } = await h.env.client.workflowService.getWorkflowExecutionHistory({
      namespace: h.env.namespace ?? 'default',
      execution: { workflowId: handle.workflowId },
    });
    if (!history) throw new Error('no history');
    return history;
  };

  it('when an order completes, then every payload of its history is encrypted except its search attributes', async () => {
    const input = h.order();
    const history = await h.run(input, async (handle) => {
      await reportHarvest(handle, input);
      await handle.result();
      return rawHistory(handle);
    });
    expect(plaintextPayloads(history)).toEqual([]);
    const payloads = payloadsOf(history);
    // Input, signal, local activity results, activity inputs and results, the result, the memo.
    expect(payloads.filter((p) => p.encoding === ENCRYPTED_ENCODING).length).toBeGreaterThan(10);
    for (const path of ['workflowExecutionStartedEventAttributes.input', 'workflowExecutionSignaledEventAttributes']) {
      expect(payloads.some((p) => p.path.startsWith(path) && p.encoding === ENCRYPTED_ENCODING)).toBe(true);
    }
    const bytes = Buffer.concat(payloads.map((p) => p.data)).toString('latin1');
    for (const secret of Object.values(input.shippingAddress)) expect(bytes).not.toContain(secret);
  });

  it('when payment is declined, then the failures keep message and stack only encrypted, and the client still reads them', async () => {
    const input = h.order({ paymentMethod: 'pm_card_chargeDeclined' });
    const { failure, view, history } = await h.run(input, async (handle) => {
      await reportHarvest(handle, input);
      const outcome = await workflowFailure(handle.result());
      return { ...outcome, view: await handle.query(statusQuery), history: await rawHistory(handle) };
    });
    // Decoded through the codec: the business failure reads as before.
    expect(failure.type).toBe('PaymentDeclined');
    expect(failure.message).toMatch(/declined/i);
    expect(view.reason).toMatch(/declined/i);

    const failures = failuresOf(history);
    // The activity's failure (worker side) and the workflow's own (converted inside the workflow sandbox).
    expect(failures.some((f) => f.path.startsWith('activityTaskFailedEventAttributes'))).toBe(true);
    expect(failures.some((f) => f.path.startsWith('workflowExecutionFailedEventAttributes'))).toBe(true);
    for (const stored of failures) {
      expect(stored).toEqual({
        path: stored.path,
        message: 'Encoded failure',
        stackTrace: '',
        encodedAttributesEncoding: ENCRYPTED_ENCODING,
      });
    }
    expect(plaintextPayloads(history)).toEqual([]);
  });

  it('when an order runs, then its search attributes (indexed in plaintext) and memo hold no name, address or e-mail', async () => {
    const input = h.order();
    const [customer] = await h.db.query<{ name: string; email: string }>(
      'select name, email from customers where id = $1',
      [input.customerId],
    );
    const { description, history } = await h.run(input, async (handle) => {
      await reportHarvest(handle, input);
      await handle.result();
      return { description: await handle.describe(), history: await rawHistory(handle) };
    });
    // What is there: no memo at all, and as search attributes an opaque customer ID, the status and the step.
    expect(description.memo ?? {}).toEqual({});
    // Temporal's own (TemporalChangeVersion: patch IDs) aside.
    const ours = description.typedSearchAttributes.getAll().filter((pair) => !pair.key.name.startsWith('Temporal'));
    expect(ours.map((pair) => pair.key.name).sort()).toEqual(['CustomerId', 'OrderStatus', 'OrderStep']);
    const personal = [...Object.values(input.shippingAddress), customer?.name, customer?.email].filter(
      (value): value is string => typeof value === 'string' && value.length > 3,
    );
    const visible = JSON.stringify({ memo: description.memo, attributes: description.typedSearchAttributes.getAll() });
    const indexed = Buffer.concat(
      payloadsOf(history)
        .filter((p) => /searchAttributes\.indexedFields/.test(p.path))
        .map((p) => p.data),
    ).toString('utf8');
    expect(indexed).toContain(input.customerId);
    for (const value of personal) {
      expect({ value, inMemoOrAttributes: visible.includes(value) || indexed.includes(value) }).toEqual({
        value,
        inMemoOrAttributes: false,
      });
    }
  });
});
