import { createHarvestActivities } from './harvest';
import { createInventoryActivities } from './inventory';
import { createNotificationActivities } from './notifications';
import { createOrderActivities } from './orders';
import { createPackingActivities } from './packing';
import { createPaymentActivities } from './payments';
import type { ActivityDeps } from './shared';
import { createShippingActivities } from './shipping';

export type { ActivityDeps } from './shared';

/** Every activity the order workflow uses, built from injected dependencies (database, providers). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createOrderActivities(deps),
    ...createInventoryActivities(deps),
    ...createHarvestActivities(deps),
    ...createPackingActivities(deps),
    ...createPaymentActivities(deps),
    ...createShippingActivities(deps),
    ...createNotificationActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
