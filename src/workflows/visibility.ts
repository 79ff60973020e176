import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { OrderState } from './order-state';
import { CUSTOMER_ID, ORDER_STATUS, ORDER_STEP } from './search-attributes';

/**
 * What operators see of an order in the Web UI and the CLI without querying it: the OrderStatus and OrderStep
 * search attributes (for `OrderStatus="NEEDS_ATTENTION"`-style filters) and the run's current details.
 *
 * The search attributes are written when the order comes to rest (it is about to wait for a provider, the crew, an
 * operator, or the end of the run), not on every step: each write is a history event, and the steps between two
 * waits run within one workflow task, where nobody could have seen the values in between.
 */
export class OrderVisibility {
  private published: string;

  constructor(
    private readonly order: OrderState,
    customerId: string,
  ) {
    const attributes = workflowInfo().typedSearchAttributes;
    this.published = `${attributes.get(ORDER_STATUS) ?? ''}/${attributes.get(ORDER_STEP) ?? ''}`;
    // The API sets all three when it starts the run; a run started another way (the CLI) gets its owner here.
    if (attributes.get(CUSTOMER_ID) === undefined) upsertSearchAttributes([{ key: CUSTOMER_ID, value: customerId }]);
  }

  /** The order is about to wait: make its status and step searchable if they changed since the last write. */
  beforeWaiting(): void {
    const { status, step, reason } = this.order.view;
    setCurrentDetails(`**${status}** at step \`${step}\`${reason ? `: ${reason}` : ''}`);
    if (this.published === `${status}/${step}`) return;
    this.published = `${status}/${step}`;
    upsertSearchAttributes([
      { key: ORDER_STATUS, value: status },
      { key: ORDER_STEP, value: step },
    ]);
  }
}
