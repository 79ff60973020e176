import EasyPostClient from '@easypost/api';
import { ApplicationFailure } from '@temporalio/common';
import { labelReference } from '../../src/providers/easypost';
import type { LabelRequest } from '../../src/providers/types';
import { SANDBOX_CARRIER_ACCOUNTS } from '../../src/sandbox/accounts';
import { address, rejectionOf, startHarness, uid, type SandboxHarness } from './harness';

/**
 * The shipping adapter (official `@easypost/api` package, one carrier account per carrier) against the sandbox's
 * EasyPost API: buy, void, collect, and find a label by the order's reference.
 */
describe('labels over EasyPost: adapter and sandbox', () => {
  let h: SandboxHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterEach(() => h.admin.clearFaults());
  afterAll(() => h.stop());

  const labelRequest = (overrides: Partial<LabelRequest> = {}): LabelRequest => ({
    orderId: uid('order'),
    weightGrams: 3_200,
    address: address(),
    ...overrides,
  });

  it('when booking with the primary carrier, then one shipment is bought in one call under the order reference, shipping next morning', async () => {
    const req = labelRequest();
    const before = new Date();
    const label = await h.providers.carriers.primary.book(req);
    expect(label).toEqual({
      carrier: 'primary',
      labelId: expect.stringMatching(/^shp_/),
      trackingNumber: expect.stringMatching(/^PRI\d{12}$/),
      pickupDate: expect.any(String),
    });
    const ships = new Date(label.pickupDate);
    expect(ships.getTime()).toBeGreaterThan(before.getTime());
    expect(ships.getTime() - before.getTime()).toBeLessThanOrEqual(48 * 3_600_000);
    expect(await h.admin.listShipments('primary', req.orderId)).toEqual([
      expect.objectContaining({
        id: label.labelId,
        reference: labelReference(req.orderId, 'primary'),
        carrierAccountId: SANDBOX_CARRIER_ACCOUNTS.primary.id,
        status: 'PURCHASED',
        weightOunces: 112.9,
        toAddress: expect.objectContaining({ street1: '1 Orchard Lane', zip: '12345' }),
      }),
    ]);
  });

  it('when the order is booked again at the same carrier, then the label under its reference comes back and one shipment exists', async () => {
    const req = labelRequest();
    const first = await h.providers.carriers.backup.book(req);
    const second = await h.providers.carriers.backup.book(req);
    expect(second).toEqual(first);
    expect(first.trackingNumber).toMatch(/^BAK\d{12}$/);
    expect(await h.admin.listShipments('backup', req.orderId)).toHaveLength(1);
  });

  it('when the booking answer is lost, then the label is found by the order reference and a new booking returns it', async () => {
    await h.admin.setFaults({ primary: { timeoutNext: 1, hangMs: 2_000 } });
    const req = labelRequest();
    const client = h.clients(300);
    await expect(client.carriers.primary.book(req)).rejects.toMatchObject({ name: 'ProviderUnavailableError' });

    const [found] = await client.carriers.primary.findLabels(req.orderId);
    expect(found).toMatchObject({
      carrier: 'primary',
      status: 'BOOKED',
      reference: labelReference(req.orderId, 'primary'),
    });
    const again = await client.carriers.primary.book(req);
    expect(again.labelId).toBe(found?.labelId);
    expect(await h.admin.listShipments('primary', req.orderId)).toHaveLength(1);
  });

  it('when the postal code is 00000, then the primary offers no rate (CarrierRefused) but the backup books', async () => {
    const req = labelRequest({ address: address({ postalCode: '00000' }) });
    const error = await rejectionOf(h.providers.carriers.primary.book(req));
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'CarrierRefused', nonRetryable: true });
    expect((error as ApplicationFailure).details?.[0]).toMatchObject({
      status: 422,
      code: 'SHIPMENT.POSTAGE.FAILURE',
      message: expect.stringMatching(/does not deliver to postal code 00000/),
    });

    const label = await h.providers.carriers.backup.book(req);
    expect(label.carrier).toBe('backup');
    expect(await h.admin.listShipments('primary', req.orderId)).toEqual([]);
    expect(await h.admin.listShipments('backup', req.orderId)).toHaveLength(1);
  });

  it('when the primary is out, then booking it is ProviderUnavailableError and the backup still books', async () => {
    await h.admin.setFaults({ primary: { outage: true } });
    const req = labelRequest();
    const error = await rejectionOf(h.providers.carriers.primary.book(req));
    expect(error).toMatchObject({ name: 'ProviderUnavailableError', status: 503, provider: 'carrier primary' });
    expect((error as Error).message).toMatch(/carrier primary unavailable: POST http.*\/v2\/shipments answered 503/);
    await expect(h.providers.carriers.backup.book(req)).resolves.toMatchObject({ carrier: 'backup' });
    expect(await h.admin.listShipments('primary', req.orderId)).toEqual([]);
  });

  it('when refuseNext is set, then the next purchase is CarrierRefused and the one after books', async () => {
    await h.admin.setFaults({ backup: { refuseNext: 1 } });
    const req = labelRequest();
    await expect(h.providers.carriers.backup.book(req)).rejects.toMatchObject({ type: 'CarrierRefused' });
    await expect(h.providers.carriers.backup.book(req)).resolves.toMatchObject({ carrier: 'backup' });
  });

  it('when a shipment was created but not bought (a one-call buy that came back rated only), then booking buys its rate', async () => {
    const req = labelRequest();
    const key = new EasyPostClient('EZTKtest', { baseUrl: `${h.url}/v2/` });
    const account = SANDBOX_CARRIER_ACCOUNTS.primary;
    const rated = await key.Shipment.create({
      reference: labelReference(req.orderId, 'primary'),
      to_address: { street1: '1 Orchard Lane', city: 'Appleton', zip: '12345', country: 'NL' },
      from_address: { street1: '1 Farm Road', city: 'Greenfield', zip: '01301', country: 'US' },
      parcel: { weight: 10 },
      carrier_accounts: [account.id],
    });
    expect(rated.tracking_code).toBeNull();
    const label = await h.providers.carriers.primary.book(req);
    expect(label.labelId).toBe(rated.id);
    expect(await h.admin.listShipments('primary', req.orderId)).toEqual([
      expect.objectContaining({ status: 'PURCHASED' }),
    ]);
  });

  it('when a label is voided twice, then both succeed and it stays voided; a new booking there is refused', async () => {
    const req = labelRequest();
    const { labelId } = await h.providers.carriers.primary.book(req);
    await h.providers.carriers.primary.voidLabel(labelId);
    await h.providers.carriers.primary.voidLabel(labelId);
    expect(await h.admin.listShipments('primary', req.orderId)).toEqual([
      expect.objectContaining({ status: 'VOIDED', voidedAt: expect.any(String), pickedUpAt: null }),
    ]);
    expect(await h.providers.carriers.primary.findLabels(req.orderId)).toEqual([
      expect.objectContaining({ labelId, status: 'VOIDED' }),
    ]);
    await expect(h.providers.carriers.primary.book(req)).rejects.toMatchObject({ type: 'CarrierRefused' });
  });

  it('when the pickup is confirmed, then a Pickup is bought, the tracker shows the acceptance scan, and voiding is LabelAlreadyPickedUp', async () => {
    const req = labelRequest();
    const { labelId } = await h.providers.carriers.primary.book(req);
    const first = await h.providers.carriers.primary.confirmPickup(labelId);
    const again = await h.providers.carriers.primary.confirmPickup(labelId);
    expect(again).toEqual(first);
    const error = await rejectionOf(h.providers.carriers.primary.voidLabel(labelId));
    expect(error).toMatchObject({ type: 'LabelAlreadyPickedUp', nonRetryable: true });
    const [shipment] = await h.admin.listShipments('primary', req.orderId);
    expect(shipment).toMatchObject({ status: 'PICKED_UP', pickedUpAt: first.pickedUpAt });
    expect(await h.providers.carriers.primary.findLabels(req.orderId)).toEqual([
      expect.objectContaining({ status: 'PICKED_UP', pickedUpAt: first.pickedUpAt }),
    ]);
    const pickups = await h.db.query('select status, reference from sandbox.easypost_pickups where shipment_id = $1', [
      labelId,
    ]);
    expect(pickups).toEqual([{ status: 'scheduled', reference: `order:${req.orderId}:pickup:primary` }]);
  });

  it('when a voided label is to be picked up, then LabelVoided is thrown', async () => {
    const { labelId } = await h.providers.carriers.backup.book(labelRequest());
    await h.providers.carriers.backup.voidLabel(labelId);
    await expect(h.providers.carriers.backup.confirmPickup(labelId)).rejects.toMatchObject({
      type: 'LabelVoided',
      nonRetryable: true,
    });
  });

  it('when the label does not exist, then NotFound is thrown, and an order without labels finds none', async () => {
    await expect(h.providers.carriers.primary.confirmPickup('shp_missing')).rejects.toMatchObject({ type: 'NotFound' });
    await expect(h.providers.carriers.primary.voidLabel('shp_missing')).rejects.toMatchObject({ type: 'NotFound' });
    expect(await h.providers.carriers.backup.findLabels(uid('nobody'))).toEqual([]);
  });

  it('when no API key is sent, then EasyPost answers 401', async () => {
    const response = await fetch(`${h.url}/v2/shipments/shp_x`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 'APIKEY.REQUIRED' } });
  });
});
