import { randomUUID } from 'node:crypto';
import type { OrderInput, OrderProgress, OrderStatus, OrderStep } from '../../src/workflows/definitions';

/**
 * The demo customer's order of the seeded stock (2 heirloom tomatoes, 1 butter lettuce), as the API would hand it
 * to the workflow: a fresh order ID with `idPrefix`, everything else overridable.
 */
export function demoOrder(idPrefix: string, overrides: Partial<OrderInput> = {}): OrderInput {
  return {
    orderId: `${idPrefix}-${randomUUID()}`,
    customerId: 'cust-demo',
    lines: [
      { sku: 'TOM-HEIRLOOM', quantity: 2 },
      { sku: 'LET-BUTTER', quantity: 1 },
    ],
    acceptPartial: false,
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    shippingAddress: {
      name: 'Dana Demo',
      line1: '1 Orchard Lane',
      city: 'Springfield',
      postalCode: '12345',
      country: 'US',
    },
    requestHash: 'test',
    submittedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** The progress a workflow hands to an activity that records `step` (tests that call activities directly). */
export function progressAt(step: OrderStep, status: OrderStatus = 'RUNNING'): OrderProgress {
  return { status, step, reason: null };
}
