/** Provider interfaces, their HTTP clients, and the errors activities see. */
export * from './types';
export * from './errors';
export { createHttpProviders, type HttpProvidersOptions } from './http';
export { SandboxAdmin } from './sandbox-admin';
