import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';

/** Writes a complete JSON answer that no cache keeps; HEAD gets the headers only. */
export function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'application/json; charset=utf-8',
): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

/** `{"error":{"status":405,"message":"Method Not Allowed"}}`, the one error shape of the package. */
export function errorBody(status: number, message: string = STATUS_CODES[status] ?? 'Error'): string {
  return JSON.stringify({ error: { status, message } });
}

export function sendError(req: IncomingMessage, res: ServerResponse, status: number, message?: string): void {
  sendJson(req, res, status, errorBody(status, message));
}
