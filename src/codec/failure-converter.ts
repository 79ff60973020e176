/**
 * The failure converter of every client and worker, and of the workflow bundle (`failureConverterPath`): it moves a
 * failure's message and stack trace into its encoded attributes, a payload, so the codec encrypts them like every
 * other payload. Error messages quote what failed, and that can be customer data.
 *
 * This file is loaded inside the workflow sandbox too: it may import nothing but @temporalio/common.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
