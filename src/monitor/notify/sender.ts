import type { Transporter } from 'nodemailer';
import type { LifelineLogger } from '../../logging/logger.js';
import { monitorFailures } from '../failures.js';
import type { MonitorStore } from '../store/index.js';
import type { NotificationConfig } from '../types.js';
import type { AttemptResult, OutboxMessage } from '../store/outbox.js';
import { sendEmail, sendService, sendSms, sendWebhook, type AttemptOutcome } from './channels.js';
import { isServiceType, serviceOrigin } from './services.js';
import type { AnyPayload } from './message.js';
import type { NotifySettings } from './options.js';

const PRUNE_EVERY = 3_600_000;
/** Configs left out of a claim at most (their destination is full). */
const SKIP_MAX = 10_000;
/** Finished messages and their attempts are kept this long. */
const KEEP = 30 * 86_400_000;

export interface SenderStats {
  attempts: number;
  delivered: number;
  failed: number;
}

/**
 * Where a config's attempts wait: a webhook's origin, else the one relay every
 * email (SMTP server) or text (SMS API) goes through. A receiver that hangs holds
 * the slots of its destination only.
 */
export function destinationOf(config: Pick<NotificationConfig, 'notification_type' | 'recipient'> & { base_url?: string | null }): string {
  if (isServiceType(config.notification_type)) {
    return serviceOrigin({ notification_type: config.notification_type, recipient: config.recipient, base_url: config.base_url ?? null });
  }
  if (config.notification_type !== 'webhook') return config.notification_type;
  try {
    return new URL(config.recipient).origin;
  } catch {
    return config.recipient;
  }
}

/**
 * The background sender: claims due outbox messages, sends each through its
 * config's channel, and records the attempt together with the message's next
 * state. Never on the checks' path: it only reads the outbox they write.
 *
 * Every attempt runs on its own: the sender claims again as soon as a slot frees,
 * so an attempt waiting on a receiver that never answers holds its own slot (and
 * its config's later messages, which wait for it to keep their order), never
 * another config's. Slots are bounded overall (`concurrency`) and per destination
 * (`destinationConcurrency`).
 */
export class NotificationSender {
  readonly #store: MonitorStore;
  readonly #settings: NotifySettings;
  readonly #logger: LifelineLogger;
  readonly #instance: string;
  readonly #closing = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #renewal: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #mail: Promise<Transporter> | undefined;
  #lastPrune = 0;
  readonly #outboxFailures;
  /** Attempts in flight, by outbox id. */
  readonly #inFlight = new Map<number, Promise<void>>();
  /** Attempts in flight per destination. */
  readonly #busy = new Map<string, number>();
  /** Each config's destination as last seen: the configs of a full destination are not claimed. */
  readonly #destinationOf = new Map<number, string>();
  readonly stats: SenderStats = { attempts: 0, delivered: 0, failed: 0 };

  constructor(store: MonitorStore, settings: NotifySettings, logger: LifelineLogger, instance: string) {
    this.#store = store;
    this.#settings = settings;
    this.#logger = logger;
    this.#instance = instance;
    this.#outboxFailures = monitorFailures('monitor: reading the notification outbox', logger);
  }

  start(): void {
    this.#arm(0);
    const every = Math.floor(this.#settings.lease / 3);
    this.#renewal = setInterval(() => void this.#renew(), every);
    this.#renewal.unref();
  }

  /** Looks at the outbox now (a state change was just stored, or a slot freed). */
  wake(): void {
    if (this.#closing.signal.aborted) return;
    if (this.#running) this.#again = true;
    else this.#arm(0);
  }

  #arm(ms: number): void {
    if (this.#closing.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#run(), ms);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    this.#timer = undefined;
    this.#again = false;
    let more = false;
    this.#running = (async () => {
      try {
        more = await this.#tick();
        this.#outboxFailures.succeeded();
      } catch (error) {
        this.#outboxFailures.failed(error);
      }
    })();
    await this.#running;
    this.#running = undefined;
    this.#arm(more || this.#again ? 0 : this.#settings.pollInterval);
  }

  /**
   * One pass: claims as many due messages as there are free slots and starts each
   * attempt without waiting for it. Returns true when more may be due at once.
   */
  async #tick(): Promise<boolean> {
    const now = Date.now();
    if (now - this.#lastPrune > PRUNE_EVERY) {
      this.#lastPrune = now;
      await this.#store.outbox.prune(now - KEEP);
    }
    const free = this.#settings.concurrency - this.#inFlight.size;
    if (free <= 0) return false; // a finishing attempt wakes the sender
    const skip: number[] = [];
    for (const [config, destination] of this.#destinationOf) {
      // Bounded to stay within the databases' bind limits; a config left out is at worst claimed and given back.
      if (skip.length < SKIP_MAX && this.#isFull(destination)) skip.push(config);
    }
    const claimed = await this.#store.outbox.claim(this.#instance, { limit: free, lease: this.#settings.lease, now, skip });
    const configs = await Promise.all(claimed.map((m) => this.#store.notifications.get(m.config)));
    const giveBack: number[] = [];
    claimed.forEach((message, i) => {
      // Its claim ran out mid-attempt (renewals failed) and came back to this sender: the attempt still runs.
      if (this.#inFlight.has(message.id)) return;
      const config = configs[i];
      if (config) {
        const destination = destinationOf(config);
        this.#destinationOf.set(config.id, destination);
        // A config first seen here whose destination is full: back to the outbox, and skipped from now on.
        if (this.#isFull(destination)) return void giveBack.push(message.id);
      } else {
        this.#destinationOf.delete(message.config);
      }
      this.#begin(message, config);
    });
    await this.#store.outbox.release(giveBack, this.#instance);
    // Given back means waiting on a full destination: poll later (or on a freed slot), never spin.
    return claimed.length === free && giveBack.length === 0;
  }

  #isFull(destination: string): boolean {
    return (this.#busy.get(destination) ?? 0) >= this.#settings.destinationConcurrency;
  }

  #begin(message: OutboxMessage, config: NotificationConfig | undefined): void {
    const destination = config ? destinationOf(config) : '';
    this.#busy.set(destination, (this.#busy.get(destination) ?? 0) + 1);
    const attempt = this.#deliver(message, config)
      .catch((error: unknown) => {
        // The attempt's record could not be written: its claim runs out and it is sent again (same webhook-id).
        this.#logger.warn('monitor: could not record a notification attempt', { message_id: message.message_id, error: String(error) });
      })
      .finally(() => {
        this.#inFlight.delete(message.id);
        const left = (this.#busy.get(destination) ?? 1) - 1;
        if (left > 0) this.#busy.set(destination, left);
        else this.#busy.delete(destination);
        this.wake();
      });
    this.#inFlight.set(message.id, attempt);
  }

  /** Keeps the claims of the attempts in flight for another lease. */
  async #renew(): Promise<void> {
    if (this.#inFlight.size === 0) return;
    const until = Date.now() + this.#settings.lease;
    // A failed renewal is tried again in a third of the lease; the claim holds until then.
    await this.#store.outbox.renew([...this.#inFlight.keys()], this.#instance, until).catch(() => {});
  }

  async #deliver(message: OutboxMessage, config: NotificationConfig | undefined): Promise<void> {
    if (!config || !config.enabled) {
      await this.#store.outbox.drop(message.id, 'the notification config is disabled');
      return;
    }
    const payload = message.payload as unknown as AnyPayload;
    const started = Date.now();
    const options = { timeout: this.#settings.timeout, signal: this.#closing.signal, allowLinkLocal: this.#settings.allowLinkLocal };
    let outcome: AttemptOutcome;
    try {
      const type = config.notification_type;
      if (type === 'webhook') {
        const secret = await this.#store.notifications.secretOf(config.id);
        outcome = await sendWebhook(config.recipient, secret, message.message_id, payload, options);
      } else if (isServiceType(type)) {
        const secret = await this.#store.notifications.secretOf(config.id);
        outcome = await sendService({ ...config, notification_type: type }, secret, payload, this.#settings.publicUrl, options);
      } else if (config.notification_type === 'sms') {
        outcome = this.#settings.sms
          ? await sendSms(this.#settings.sms, config.recipient, payload, options)
          : { ok: false, status_code: null, error: 'SMS is not configured (SMS_API_URL)' };
      } else {
        const mail = this.#mailer();
        outcome = mail
          ? await sendEmail(await mail, this.#settings.mailFrom, config.recipient, payload, this.#settings.publicUrl)
          : { ok: false, status_code: null, error: 'email is not configured (SMTP_URL)' };
      }
    } catch (error) {
      outcome = { ok: false, status_code: null, error: String(error).slice(0, 300) };
    }
    if (!outcome.ok && this.#closing.signal.aborted) {
      // Stopped mid-attempt: hand the message back as it was; the next sender sends it at once.
      await this.#store.outbox.release([message.id], this.#instance).catch(() => {});
      return;
    }
    const at = Date.now();
    const attempt = message.attempts + 1;
    const result: AttemptResult = { ...outcome, duration_ms: at - started, at, state: 'delivered', next_attempt_at: at };
    if (outcome.gone) {
      result.state = 'disabled';
      result.disableConfig = true;
    } else if (!outcome.ok) {
      const schedule = this.#settings.retrySchedule;
      const next = at + schedule[Math.min(attempt - 1, schedule.length - 1)]!;
      result.state = next - message.created_at > this.#settings.retryFor ? 'failed' : 'pending';
      result.next_attempt_at = next;
    }
    const held = await this.#store.outbox.finish(message, this.#instance, result);
    this.stats.attempts++;
    const meta = {
      config: config.id,
      type: config.notification_type,
      event: message.event,
      message_id: message.message_id,
      attempt,
      duration_ms: result.duration_ms,
      ...(outcome.status_code === null ? {} : { status_code: outcome.status_code }),
      ...(held ? {} : { note: 'claim expired during the attempt' }),
    };
    if (outcome.ok) {
      this.stats.delivered++;
      this.#logger.info('monitor: notification delivered', meta);
    } else if (result.state === 'pending') {
      this.#logger.warn('monitor: notification attempt failed, will retry', {
        ...meta,
        error: outcome.error,
        retry_at: new Date(result.next_attempt_at).toISOString(),
      });
    } else {
      this.stats.failed++;
      const why = outcome.gone ? 'the receiver answered 410 Gone: config disabled' : 'retries exhausted, giving up';
      this.#logger.error(`monitor: notification not delivered, ${why}`, { ...meta, error: outcome.error });
    }
  }

  /** The SMTP transport, made on first use (nodemailer loads only then). */
  #mailer(): Promise<Transporter> | undefined {
    const url = this.#settings.smtpUrl;
    if (!url) return undefined;
    const timeout = this.#settings.timeout;
    this.#mail ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({ url, connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout } as never),
    );
    return this.#mail;
  }

  /** Stops polling; attempts in flight are cancelled and their messages handed back. */
  async close(): Promise<void> {
    this.#closing.abort();
    clearTimeout(this.#timer);
    clearInterval(this.#renewal);
    await this.#running;
    await Promise.all(this.#inFlight.values());
    const mail = await this.#mail?.catch(() => undefined);
    mail?.close();
  }
}
