import { ApplicationFailure } from '@temporalio/common';
import type { LabelRequest } from '../../src/providers/types';
import { address, rejectionOf, startHarness, uid, type SandboxHarness } from './harness';

describe('sandbox carriers', () => {
  let h: SandboxHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterEach(() => h.admin.clearFaults());
  afterAll(() => h.stop());

  const labelRequest = (overrides: Partial<LabelRequest> = {}): LabelRequest => ({
    idempotencyKey: uid('label'),
    orderId: uid('order'),
    weightGrams: 3_200,
    address: address(),
    ...overrides,
  });

  it('when booking with the primary carrier, then a PRI label with a next-day pickup is booked', async () => {
    const req = labelRequest();
    const before = new Date();
    const label = await h.providers.carriers.primary.book(req);
    expect(label).toEqual({
      carrier: 'primary',
      labelId: expect.stringMatching(/^lbl_/),
      trackingNumber: expect.stringMatching(/^PRI\d{12}$/),
      pickupDate: expect.any(String),
    });
    const pickup = new Date(label.pickupDate);
    expect(pickup.getTime()).toBeGreaterThan(before.getTime());
    expect(pickup.getTime() - before.getTime()).toBeLessThanOrEqual(48 * 3_600_000);
    expect(await h.admin.listLabels('primary', req.orderId)).toEqual([
      expect.objectContaining({ labelId: label.labelId, status: 'BOOKED', weightGrams: 3_200, address: req.address }),
    ]);
  });

  it('when a booking is replayed with its key, then the same label comes back and one label exists', async () => {
    const req = labelRequest();
    const [a, b] = await Promise.all([h.providers.carriers.backup.book(req), h.providers.carriers.backup.book(req)]);
    expect(b).toEqual(a);
    expect(a.trackingNumber).toMatch(/^BAK\d{12}$/);
    expect(await h.admin.listLabels('backup', req.orderId)).toHaveLength(1);
  });

  it('when the postal code is 00000, then the primary refuses with CarrierRefused but the backup books', async () => {
    const req = labelRequest({ address: address({ postalCode: '00000' }) });
    const error = await rejectionOf(h.providers.carriers.primary.book(req));
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'CarrierRefused', nonRetryable: true });
    expect((error as ApplicationFailure).details?.[0]).toMatchObject({ type: 'address_unserviceable', status: 422 });

    const label = await h.providers.carriers.backup.book({ ...req, idempotencyKey: uid('label') });
    expect(label.carrier).toBe('backup');
    expect(await h.admin.listLabels('primary', req.orderId)).toEqual([]);
    expect(await h.admin.listLabels('backup', req.orderId)).toHaveLength(1);
  });

  it('when the primary is out, then booking it is ProviderUnavailableError and the backup still books', async () => {
    await h.admin.setFaults({ primary: { outage: true } });
    const req = labelRequest();
    const error = await rejectionOf(h.providers.carriers.primary.book(req));
    expect(error).toMatchObject({ name: 'ProviderUnavailableError', status: 503, provider: 'carrier primary' });
    expect((error as Error).message).toMatch(
      /carrier primary unavailable: POST http.*\/carriers\/primary\/labels answered 503/,
    );
    await expect(h.providers.carriers.backup.book(req)).resolves.toMatchObject({ carrier: 'backup' });
    expect(await h.admin.listLabels('primary', req.orderId)).toEqual([]);
  });

  it('when refuseNext is set, then the next booking is CarrierRefused and the one after books', async () => {
    await h.admin.setFaults({ backup: { refuseNext: 1 } });
    await expect(h.providers.carriers.backup.book(labelRequest())).rejects.toMatchObject({ type: 'CarrierRefused' });
    await expect(h.providers.carriers.backup.book(labelRequest())).resolves.toMatchObject({ carrier: 'backup' });
  });

  it('when a label is voided twice, then both succeed and it stays VOIDED', async () => {
    const req = labelRequest();
    const { labelId } = await h.providers.carriers.primary.book(req);
    await h.providers.carriers.primary.voidLabel(labelId);
    await h.providers.carriers.primary.voidLabel(labelId);
    expect(await h.admin.listLabels('primary', req.orderId)).toEqual([
      expect.objectContaining({ status: 'VOIDED', voidedAt: expect.any(String), pickedUpAt: null }),
    ]);
  });

  it('when a picked-up label is voided, then LabelAlreadyPickedUp is thrown and it stays PICKED_UP', async () => {
    const req = labelRequest();
    const { labelId } = await h.providers.carriers.primary.book(req);
    const first = await h.providers.carriers.primary.confirmPickup(labelId);
    const again = await h.providers.carriers.primary.confirmPickup(labelId);
    expect(again).toEqual(first);
    const error = await rejectionOf(h.providers.carriers.primary.voidLabel(labelId));
    expect(error).toMatchObject({ type: 'LabelAlreadyPickedUp', nonRetryable: true });
    expect(await h.admin.listLabels('primary', req.orderId)).toEqual([
      expect.objectContaining({ status: 'PICKED_UP' }),
    ]);
  });

  it('when a voided label is picked up, then LabelVoided is thrown', async () => {
    const { labelId } = await h.providers.carriers.backup.book(labelRequest());
    await h.providers.carriers.backup.voidLabel(labelId);
    await expect(h.providers.carriers.backup.confirmPickup(labelId)).rejects.toMatchObject({
      type: 'LabelVoided',
      nonRetryable: true,
    });
  });

  it('when the label belongs to another carrier or does not exist, then NotFound is thrown', async () => {
    const { labelId } = await h.providers.carriers.primary.book(labelRequest());
    await expect(h.providers.carriers.backup.voidLabel(labelId)).rejects.toMatchObject({ type: 'NotFound' });
    await expect(h.providers.carriers.primary.confirmPickup('lbl_missing')).rejects.toMatchObject({ type: 'NotFound' });
  });

  it('when an unknown carrier is addressed, then the sandbox answers 404 carrier_not_found', async () => {
    const response = await fetch(`${h.url}/carriers/pigeon/labels`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
      body: JSON.stringify(labelRequest()),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ type: 'carrier_not_found' });
  });

  it('when a label is read by id, then it shows its current status', async () => {
    const { labelId } = await h.providers.carriers.backup.book(labelRequest());
    const response = await fetch(`${h.url}/carriers/backup/labels/${labelId}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ labelId, carrier: 'backup', status: 'BOOKED' });
  });
});
