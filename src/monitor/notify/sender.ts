import type { Transporter } from 'nodemailer';
import type { LifelineLogger } from '../../logging/logger.js';
import type { MonitorStore } from '../store/index.js';
import type { AttemptResult, OutboxMessage } from '../store/outbox.js';
import { sendEmail, sendSms, sendWebhook, type AttemptOutcome } from './channels.js';
import type { NotificationPayload } from './message.js';
import type { NotifySettings } from './options.js';

/** Messages claimed at once; each is sent concurrently. */
const BATCH = 20;
const PRUNE_EVERY = 3_600_000;
/** Finished messages and their attempts are kept this long. */
const KEEP = 30 * 86_400_000;

export interface SenderStats {
  attempts: number;
  delivered: number;
  failed: number;
}

/**
 * The background sender: claims due outbox messages, sends each through its
 * config's channel, and records the attempt together with the message's next
 * state. Never on the checks' path: it only reads the outbox they write.
 */
export class NotificationSender {
  readonly #store: MonitorStore;
  readonly #settings: NotifySettings;
  readonly #logger: LifelineLogger;
  readonly #instance: string;
  readonly #closing = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #mail: Promise<Transporter> | undefined;
  #lastPrune = 0;
  #failing = false;
  readonly stats: SenderStats = { attempts: 0, delivered: 0, failed: 0 };

  constructor(store: MonitorStore, settings: NotifySettings, logger: LifelineLogger, instance: string) {
    this.#store = store;
    this.#settings = settings;
    this.#logger = logger;
    this.#instance = instance;
  }

  start(): void {
    this.#arm(0);
  }

  /** Looks at the outbox now (a state change was just stored). */
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
    let full = false;
    this.#running = (async () => {
      try {
        full = (await this.#tick()) === BATCH;
        if (this.#failing) this.#logger.warn('monitor: notification outbox readable again');
        this.#failing = false;
      } catch (error) {
        if (!this.#failing) this.#logger.warn('monitor: could not read the notification outbox, retrying', { error: String(error) });
        this.#failing = true;
      }
    })();
    await this.#running;
    this.#running = undefined;
    this.#arm(full || this.#again ? 0 : this.#settings.pollInterval);
  }

  /** One pass: claims due messages and sends them; returns how many were claimed. */
  async #tick(): Promise<number> {
    const now = Date.now();
    if (now - this.#lastPrune > PRUNE_EVERY) {
      this.#lastPrune = now;
      await this.#store.outbox.prune(now - KEEP);
    }
    const claimed = await this.#store.outbox.claim(this.#instance, { limit: BATCH, lease: this.#settings.lease, now });
    await Promise.all(claimed.map((m) => this.#deliver(m)));
    return claimed.length;
  }

  async #deliver(message: OutboxMessage): Promise<void> {
    const config = await this.#store.notifications.get(message.config);
    if (!config || !config.enabled) {
      await this.#store.outbox.drop(message.id, 'the notification config is disabled');
      return;
    }
    const payload = message.payload as unknown as NotificationPayload;
    const started = Date.now();
    const options = { timeout: this.#settings.timeout, signal: this.#closing.signal, allowLinkLocal: this.#settings.allowLinkLocal };
    let outcome: AttemptOutcome;
    try {
      if (config.notification_type === 'webhook') {
        const secret = await this.#store.notifications.secretOf(config.id);
        outcome = await sendWebhook(config.recipient, secret, message.message_id, payload, options);
      } else if (config.notification_type === 'sms') {
        outcome = this.#settings.sms
          ? await sendSms(this.#settings.sms, config.recipient, payload, options)
          : { ok: false, status_code: null, error: 'SMS is not configured (SMS_API_URL)' };
      } else {
        const mail = this.#mailer();
        outcome = mail
          ? await sendEmail(await mail, this.#settings.mailFrom, config.recipient, payload)
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
    await this.#running;
    const mail = await this.#mail?.catch(() => undefined);
    mail?.close();
  }
}
