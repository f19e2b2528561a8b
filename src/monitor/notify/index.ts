// Notifications: the outbox written with each state change, and the sender that delivers it.
export { notificationHook, newMessageId } from './enqueue.js';
export { NotificationSender, type SenderStats } from './sender.js';
export { notifySettings, DEFAULT_RETRY_SCHEDULE, type NotifyOptions, type NotifySettings, type SmsOptions } from './options.js';
export { formatDuration, summaryOf, textOf, type NotificationPayload } from './message.js';
export { signWebhook, webhookKey } from './signature.js';
export { sendEmail, sendSms, sendWebhook, type AttemptOptions, type AttemptOutcome } from './channels.js';
