import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { simpleParser } from 'mailparser';
import { createEnvelopeCipher } from '@gatehouse/crypto';
import { AppError, ConflictError, ValidationError } from '@gatehouse/errors';
import { MemoryJobQueue } from '@gatehouse/jobs';
import { createLogger } from '@gatehouse/logger';
import {
  createMailer,
  createSmtpTransport,
  objectStorageAttachmentLoader,
  startMailWorker,
  type MailTransport,
} from '@gatehouse/mail';
import { startHttpService, type HttpService, type RouteHandler } from '@gatehouse/service';
import { createFileRoutes, createFilesystemStorage, type FilesystemStorage } from '@gatehouse/storage';
import {
  createTestDatabase,
  startTestSmtpServer,
  waitFor,
  type TestDatabase,
  type TestSmtpServer,
} from '@gatehouse/testing';
import { createBillingStore } from '../billing.repository';
import { createBillingRecipientRepository } from '../notifications';
import {
  createInvoiceRepository,
  createInvoiceService,
  enqueueInvoicePaid,
  registerInvoiceJobs,
  type CreateInvoiceInput,
  type InvoiceRow,
  type InvoiceService,
} from './index';

const SECRET = 'invoice-test-signing-secret-0123456789abcdef';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const logger = createLogger({ name: 'invoice-test', level: 'silent' });
const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
/** Long enough for 20 transactions queueing on one sequence row with a small pool. */
const TX = { maxWait: 30_000, timeout: 30_000 };

let db: TestDatabase;
let smtp: TestSmtpServer;
let http: HttpService;
let storage: FilesystemStorage;
let transport: MailTransport;
let workDir: string;
let invoices: InvoiceService;
const clock = { now: new Date('2030-03-01T10:00:00.000Z') };
const queues: MemoryJobQueue[] = [];

async function user(label: string): Promise<string> {
  const email = `${label}-${randomBytes(4).toString('hex')}@example.test`;
  return (await db.prisma.user.create({ data: { email } })).id;
}

function input(userId: string, overrides: Partial<CreateInvoiceInput> = {}): CreateInvoiceInput {
  return {
    userId,
    billingReason: 'MANUAL',
    idempotencyKey: `test:${randomBytes(8).toString('hex')}`,
    currency: 'EUR',
    lines: [{ kind: 'SUBSCRIPTION', description: 'Pro plan', unitAmount: 2900 }],
    ...overrides,
  };
}

const create = (data: CreateInvoiceInput) =>
  createBillingStore(db.prisma).transaction((unit) => invoices.create(unit.invoices, data), TX);

/** The text drawn in a PDF made by pdfkit: inflates each content stream and joins the hex strings of TJ arrays. */
function pdfText(pdf: Buffer): string {
  const raw = pdf.toString('latin1');
  const texts: string[] = [];
  for (const match of raw.matchAll(/stream\r?\n([\s\S]*?)\r?\nendstream/g)) {
    let content: string;
    try {
      content = inflateSync(Buffer.from(match[1]!, 'latin1')).toString('latin1');
    } catch {
      content = match[1]!;
    }
    for (const array of content.matchAll(/\[([^\]]*)\]\s*TJ/g)) {
      texts.push(
        [...array[1]!.matchAll(/<([0-9a-fA-F]*)>/g)]
          .map((hex) => Buffer.from(hex[1]!, 'hex').toString('latin1'))
          .join(''),
      );
    }
  }
  return texts.join('\n');
}

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase({ poolMax: 6 }), startTestSmtpServer()]);
  workDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-invoices-'));
  let routes: RouteHandler = async () => false;
  http = await startHttpService({
    name: 'files',
    host: '127.0.0.1',
    port: 0,
    logger,
    readinessChecks: {},
    routes: (req, res, requestId) => routes(req, res, requestId),
  });
  storage = createFilesystemStorage({
    rootDir: path.join(workDir, 'storage'),
    publicBaseUrl: `${http.url}/files`,
    signingSecret: SECRET,
    now: () => clock.now,
  });
  routes = createFileRoutes(storage);
  transport = createSmtpTransport({ url: smtp.url, from: 'Gatehouse <billing@gatehouse.test>' });
  invoices = createInvoiceService({
    invoiceRecords: createInvoiceRepository(db.prisma),
    recipients: createBillingRecipientRepository(db.prisma),
    storage,
    logger: quiet,
    now: () => clock.now,
    seller: { name: 'Gatehouse Test Ltd', addressLines: ['1 Test Street', 'Testville'], taxId: 'EU123' },
  });
});

afterAll(async () => {
  await Promise.all(queues.map((queue) => queue.close()));
  await transport?.close();
  await http?.stop();
  await smtp?.close();
  await db?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('invoice numbering', () => {
  it('gives 20 concurrent invoices of one year the numbers 1..20, without gaps or duplicates', async () => {
    clock.now = new Date('2031-06-15T12:00:00.000Z');
    const owner = await user('numbers');
    const created = await Promise.all(Array.from({ length: 20 }, () => create(input(owner))));
    const numbers = created.map((invoice) => invoice.number).sort();
    expect(numbers).toEqual(
      Array.from({ length: 20 }, (_, i) => `GH-2031-${String(i + 1).padStart(6, '0')}`),
    );
  });

  it('restarts at 1 each UTC year and loses no number to a rolled-back transaction', async () => {
    const owner = await user('years');
    clock.now = new Date('2032-12-31T23:59:59.000Z');
    expect((await create(input(owner))).number).toBe('GH-2032-000001');
    // A transaction that fails after numbering its invoice gives the number back.
    await expect(
      createBillingStore(db.prisma).transaction(async (unit) => {
        await invoices.create(unit.invoices, input(owner));
        throw new Error('charge failed');
      }, TX),
    ).rejects.toThrow('charge failed');
    expect((await create(input(owner))).number).toBe('GH-2032-000002');
    clock.now = new Date('2033-01-01T00:00:00.000Z');
    expect((await create(input(owner))).number).toBe('GH-2033-000001');
  });
});

describe('InvoiceService.create', () => {
  beforeEach(() => {
    clock.now = new Date('2030-03-01T10:00:00.000Z');
  });

  it('computes subtotal, tax (half-up, once per invoice) and total, and stores the lines', async () => {
    const owner = await user('totals');
    const periodStart = new Date('2030-03-01T00:00:00.000Z');
    const periodEnd = new Date('2030-04-01T00:00:00.000Z');
    const invoice = await create(
      input(owner, {
        billingReason: 'SUBSCRIPTION_UPDATE',
        taxRateBps: 1900,
        periodStart,
        periodEnd,
        lines: [
          { kind: 'PRORATION', description: 'Unused time on Basic', unitAmount: -333 },
          {
            kind: 'PRORATION',
            description: 'Remaining time on Pro',
            unitAmount: 1000,
            periodStart,
            periodEnd,
          },
          { kind: 'SUBSCRIPTION', description: 'Seats', quantity: 3, unitAmount: 99 },
        ],
      }),
    );
    // 1000 - 333 + 297 = 964; 19 % = 183.16 -> 183.
    expect(invoice).toMatchObject({
      status: 'OPEN',
      billingReason: 'SUBSCRIPTION_UPDATE',
      subtotalAmount: 964,
      taxRateBps: 1900,
      taxAmount: 183,
      totalAmount: 1147,
      creditApplied: 0,
      amountPaid: 0,
      amountDue: 1147,
      paidAt: null,
      periodStart,
      periodEnd,
      createdAt: clock.now,
    });
    expect(invoice.lines.map((line) => [line.kind, line.quantity, line.unitAmount, line.amount])).toEqual([
      ['PRORATION', 1, -333, -333],
      ['PRORATION', 1, 1000, 1000],
      ['SUBSCRIPTION', 3, 99, 297],
    ]);
    const audit = await db.prisma.auditLog.findFirst({
      where: { action: 'INVOICE_CREATED', targetId: invoice.id },
    });
    expect(audit?.metadata).toMatchObject({ number: invoice.number, totalAmount: 1147, outcome: 'SUCCESS' });
  });

  it('rounds tax half-up: 5 cents at 10 % is 1 cent', async () => {
    const owner = await user('halfup');
    const invoice = await create(
      input(owner, {
        taxRateBps: 1000,
        lines: [{ kind: 'SUBSCRIPTION', description: 'Tiny', unitAmount: 5 }],
      }),
    );
    expect([invoice.taxAmount, invoice.totalAmount]).toEqual([1, 6]);
  });

  it('is idempotent on the key, also for concurrent calls, and refuses a key of another user', async () => {
    const owner = await user('idem');
    const data = input(owner);
    const [a, b] = await Promise.all([create(data), create(data)]);
    const c = await create(data);
    expect(new Set([a.id, b.id, c.id]).size).toBe(1);
    expect(await db.prisma.invoice.count({ where: { idempotencyKey: data.idempotencyKey } })).toBe(1);
    const other = await user('idem-other');
    await expect(create({ ...data, userId: other })).rejects.toBeInstanceOf(ConflictError);
  });

  it('applies and consumes the credit balance, marking a fully covered invoice PAID', async () => {
    const owner = await user('credit');
    await db.prisma.billingCustomer.create({
      data: {
        userId: owner,
        providerCustomerId: `cus_${randomBytes(6).toString('hex')}`,
        creditBalance: 1500,
        currency: 'EUR',
      },
    });
    const lines = [{ kind: 'SUBSCRIPTION' as const, description: 'Basic', unitAmount: 1000 }];

    const covered = await create(input(owner, { lines, taxRateBps: 1900, applyCredit: true }));
    expect(covered).toMatchObject({
      totalAmount: 1190,
      creditApplied: 1190,
      amountDue: 0,
      status: 'PAID',
      paidAt: clock.now,
    });
    const partly = await create(
      input(owner, { lines: [{ ...lines[0]!, unitAmount: 2000 }], applyCredit: true }),
    );
    expect(partly).toMatchObject({ totalAmount: 2000, creditApplied: 310, amountDue: 1690, status: 'OPEN' });
    const without = await create(input(owner, { lines }));
    expect(without.creditApplied).toBe(0);

    const customer = await db.prisma.billingCustomer.findUniqueOrThrow({ where: { userId: owner } });
    expect(customer.creditBalance).toBe(0);
    const applied = await db.prisma.auditLog.findMany({
      where: { action: 'CUSTOMER_CREDIT_APPLIED', targetId: owner },
      orderBy: { createdAt: 'asc' },
    });
    expect(applied.map((row) => (row.metadata as { amount: number }).amount).sort()).toEqual([1190, 310]);
  });

  it('never spends the same credit twice when invoices are created at once', async () => {
    const owner = await user('credit-race');
    await db.prisma.billingCustomer.create({
      data: {
        userId: owner,
        providerCustomerId: `cus_${randomBytes(6).toString('hex')}`,
        creditBalance: 1000,
      },
    });
    const created = await Promise.all(
      Array.from({ length: 4 }, () =>
        create(
          input(owner, {
            applyCredit: true,
            lines: [{ kind: 'SUBSCRIPTION', description: 'x', unitAmount: 400 }],
          }),
        ),
      ),
    );
    expect(created.reduce((sum, invoice) => sum + invoice.creditApplied, 0)).toBe(1000);
    const customer = await db.prisma.billingCustomer.findUniqueOrThrow({ where: { userId: owner } });
    expect(customer.creditBalance).toBe(0);
  });

  it('leaves a credit balance in another currency alone', async () => {
    const owner = await user('credit-usd');
    await db.prisma.billingCustomer.create({
      data: {
        userId: owner,
        providerCustomerId: `cus_${randomBytes(6).toString('hex')}`,
        creditBalance: 500,
        currency: 'USD',
      },
    });
    const invoice = await create(input(owner, { applyCredit: true }));
    expect([invoice.creditApplied, invoice.amountDue]).toEqual([0, 2900]);
  });

  it.each<[string, (owner: string) => Partial<CreateInvoiceInput>]>([
    [
      'a negative subtotal',
      () => ({ lines: [{ kind: 'PRORATION', description: 'Credit', unitAmount: -100 }] }),
    ],
    [
      'a negative subscription line',
      () => ({ lines: [{ kind: 'SUBSCRIPTION', description: 'x', unitAmount: -1 }] }),
    ],
    ['a positive credit line', () => ({ lines: [{ kind: 'CREDIT', description: 'x', unitAmount: 1 }] })],
    ['a fractional amount', () => ({ lines: [{ kind: 'SUBSCRIPTION', description: 'x', unitAmount: 1.5 }] })],
    ['a lower-case currency', () => ({ currency: 'eur' })],
    ['a tax rate above 100 %', () => ({ taxRateBps: 10_001 })],
    ['no lines', () => ({ lines: [] })],
    [
      'an amount beyond the integer column',
      () => ({ lines: [{ kind: 'SUBSCRIPTION', description: 'x', quantity: 3, unitAmount: 1_000_000_000 }] }),
    ],
  ])('refuses %s', async (_, overrides) => {
    const owner = await user('invalid');
    await expect(create(input(owner, overrides(owner)))).rejects.toBeInstanceOf(ValidationError);
    expect(await db.prisma.invoice.count({ where: { userId: owner } })).toBe(0);
  });
});

describe('InvoiceService.list / byIdForUser', () => {
  let owner: string;
  let other: string;
  let created: InvoiceRow[];

  beforeAll(async () => {
    owner = await user('lister');
    other = await user('stranger');
    created = [];
    for (let i = 0; i < 7; i++) {
      clock.now = new Date(Date.UTC(2030, 4, 1 + i));
      created.push(await create(input(owner)));
    }
    // Two with the same instant: the id breaks the tie.
    created.push(await create(input(owner)));
    await db.prisma.invoice.updateMany({
      where: { id: { in: [created[1]!.id, created[4]!.id] } },
      data: { status: 'PAID', amountDue: 0, amountPaid: 2900 },
    });
    await create(input(other));
  });

  it('pages through every invoice of the owner, newest first, without repeats', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<InvoiceService['list']>> = await invoices.list(owner, {
        first: 3,
        after,
      });
      pages++;
      seen.push(...page.edges.map((edge) => edge.node.id));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    expect(pages).toBe(3);
    const expected = [...created]
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map((invoice) => invoice.id);
    expect(seen).toEqual(expected);
  });

  it('filters by status', async () => {
    const page = await invoices.list(owner, { status: 'PAID' });
    expect(page.edges.map((edge) => edge.node.id).sort()).toEqual([created[1]!.id, created[4]!.id].sort());
    expect(page.pageInfo).toEqual({ hasNextPage: false, endCursor: page.edges[1]!.cursor });
  });

  it('refuses a forged cursor and a page size out of range', async () => {
    await expect(invoices.list(owner, { after: 'bm90LWEtY3Vyc29y' })).rejects.toBeInstanceOf(ValidationError);
    await expect(invoices.list(owner, { first: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(invoices.list(owner, { first: 101 })).rejects.toBeInstanceOf(ValidationError);
  });

  it('shows an invoice to its owner only', async () => {
    const invoice = created[0]!;
    expect((await invoices.byIdForUser(owner, invoice.id))?.number).toBe(invoice.number);
    expect(await invoices.byIdForUser(other, invoice.id)).toBeNull();
    expect(await invoices.byIdForUser(owner, 'not-a-uuid')).toBeNull();
  });
});

describe('invoice PDF', () => {
  it('renders, stores privately and serves it to the owner through a short-lived signed URL', async () => {
    clock.now = new Date('2030-07-01T08:00:00.000Z');
    const owner = await user('pdf');
    const other = await user('pdf-other');
    const invoice = await create(
      input(owner, {
        taxRateBps: 2000,
        lines: [
          { kind: 'SUBSCRIPTION', description: 'Business plan (July)', unitAmount: 9900 },
          { kind: 'PRORATION', description: 'Unused time on Pro', unitAmount: -1234 },
        ],
      }),
    );

    const failure = await invoices.downloadUrl(other, invoice.id).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AppError);
    expect((failure as AppError).code).toBe('NOT_FOUND');
    expect(await storage.get(`invoices/${owner}/${invoice.id}.pdf`)).toBeNull();

    const { url, expiresAt } = await invoices.downloadUrl(owner, invoice.id);
    expect(expiresAt.getTime() - clock.now.getTime()).toBe(300_000);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/pdf');
    const pdf = Buffer.from(await response.arrayBuffer());
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const text = pdfText(pdf);
    expect(text).toContain(invoice.number);
    expect(text).toContain('Gatehouse Test Ltd');
    expect(text).toContain('Business plan (July)');
    expect(text).toContain('EUR 99.00');
    expect(text).toContain('-EUR 12.34');
    expect(text).toContain('Subtotal\nEUR 86.66');
    expect(text).toContain('Tax (20.00 %)\nEUR 17.33'); // 17.332
    expect(text).toContain('Total\nEUR 103.99');
    expect(text.indexOf('Business plan (July)')).toBeLessThan(text.indexOf('Unused time on Pro'));

    const stored = await db.prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } });
    expect(stored.pdfObjectKey).toBe(`invoices/${owner}/${invoice.id}.pdf`);
    expect((await storage.get(stored.pdfObjectKey!))?.cacheControl).toBe('private, no-store');

    // The link stops working once it expires.
    clock.now = new Date(clock.now.getTime() + 301_000);
    expect((await fetch(url)).status).not.toBe(200);
  });
});

describe('invoice paid job', () => {
  it('mails the invoice with its PDF attached, once, even when queued twice', async () => {
    clock.now = new Date('2030-08-01T08:00:00.000Z');
    const queue = new MemoryJobQueue({ logger: quiet });
    queues.push(queue);
    const mailer = createMailer({ prisma: db.prisma, jobQueue: queue, cipher, logger: quiet });
    startMailWorker({
      prisma: db.prisma,
      jobQueue: queue,
      transport,
      cipher,
      logger: quiet,
      loadAttachment: objectStorageAttachmentLoader(storage),
    });
    registerInvoiceJobs({
      jobQueue: queue,
      recipients: createBillingRecipientRepository(db.prisma),
      invoices,
      mailer,
      invoiceUrl: (invoice) => `https://app.example.test/billing/invoices/${invoice.id}`,
      logger: quiet,
    });

    const owner = await user('mailed');
    const { email } = await db.prisma.user.findUniqueOrThrow({ where: { id: owner } });
    const invoice = await create(input(owner, { taxRateBps: 1900 }));
    // What the payments module does on success (in its own transaction).
    await db.prisma.invoice.update({
      where: { id: invoice.id },
      data: { status: 'PAID', amountPaid: invoice.totalAmount, amountDue: 0, paidAt: clock.now },
    });
    await enqueueInvoicePaid(queue, invoice.id);
    await enqueueInvoicePaid(queue, invoice.id);

    const captured = await smtp.waitForMail((mail) => mail.to.includes(email), { timeoutMs: 10_000 });
    const parsed = await simpleParser(captured.raw);
    expect(parsed.subject).toBe(`Your Gatehouse invoice ${invoice.number}`);
    expect(parsed.text).toContain('EUR 34.51');
    expect(parsed.text).toContain(`https://app.example.test/billing/invoices/${invoice.id}`);
    expect(parsed.attachments).toHaveLength(1);
    const [attachment] = parsed.attachments;
    expect(attachment?.filename).toBe(`${invoice.number}.pdf`);
    expect(attachment?.contentType).toBe('application/pdf');
    expect(attachment!.content.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdfText(attachment!.content)).toContain(invoice.number);

    await waitFor(async () =>
      (await db.prisma.emailDelivery.findMany({ where: { userId: owner, template: 'invoice' } })).every(
        (delivery) => delivery.status === 'SENT',
      ),
    );
    expect(await db.prisma.emailDelivery.count({ where: { userId: owner, template: 'invoice' } })).toBe(1);
    expect(smtp.messages.filter((mail) => mail.to.includes(email))).toHaveLength(1);
  });

  it('sends nothing for an invoice that is not paid', async () => {
    const queue = new MemoryJobQueue({ logger: quiet });
    queues.push(queue);
    const sent: unknown[] = [];
    const handled: string[] = [];
    registerInvoiceJobs({
      jobQueue: queue,
      recipients: createBillingRecipientRepository(db.prisma),
      invoices,
      mailer: {
        send: async (mail) => (sent.push(mail), { deliveryId: 'x', status: 'QUEUED', created: true }),
      },
      invoiceUrl: () => 'https://app.example.test/billing',
      logger: { info: () => undefined, warn: (details) => handled.push(JSON.stringify(details)) },
    });
    const owner = await user('unpaid');
    const invoice = await create(input(owner));
    await enqueueInvoicePaid(queue, invoice.id);
    await waitFor(() => handled.length > 0);
    expect(sent).toHaveLength(0);
  });
});
