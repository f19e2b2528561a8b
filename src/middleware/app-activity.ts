import type { IncomingMessage } from 'node:http';
import { activityOf, type Activity } from '../activity.js';
import { appOf } from './types.js';

/**
 * Finds the Activity of the app a request belongs to (one of its own outside Express).
 * The last app is remembered, so the usual case (one app) costs one comparison per request;
 * `onFirst` runs once for each Activity this lookup meets (keepAlive() lists it for its
 * heartbeat, health() feeds it the checks' status).
 */
export function activityLookup(onFirst: (activity: Activity) => void): (req: IncomingMessage) => Activity {
  const ownApp = {};
  const met = new WeakSet<Activity>();
  let lastApp: object | undefined;
  let lastActivity: Activity | undefined;
  return function activityFor(req) {
    const app = appOf(req) ?? ownApp;
    if (app === lastApp && lastActivity !== undefined) return lastActivity;
    const activity = activityOf(app);
    if (!met.has(activity)) {
      met.add(activity);
      onFirst(activity);
    }
    lastApp = app;
    lastActivity = activity;
    return activity;
  };
}
