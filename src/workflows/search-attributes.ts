/**
 * Custom search attributes the workflow keeps current, so operators can filter orders in the Web UI
 * and the CLI (`OrderStatus="NEEDS_ATTENTION"`). Registered on the embedded dev server by
 * `npm start` and in docker-compose by the admin-tools service.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ORDER_STATUS = defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD);
export const ORDER_STEP = defineSearchAttributeKey('OrderStep', SearchAttributeType.KEYWORD);
export const CUSTOMER_ID = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);

/** Name -> type, for registering them (`temporal server start-dev --search-attribute Name=Type`). */
export const SEARCH_ATTRIBUTES = { OrderStatus: 'Keyword', OrderStep: 'Keyword', CustomerId: 'Keyword' } as const;
