// Plain words for what went wrong, shown to people on the dashboard and in notifications.
const TLS_MESSAGES: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  CERT_REVOKED: 'certificate revoked',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not match the host name',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS on this port',
};

const NETWORK_MESSAGES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed by the server',
  HPE_INVALID_CONSTANT: 'invalid HTTP response',
};

/** One line saying why a connection or request failed. */
export function describeError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const code = e.code ?? '';
  if (TLS_MESSAGES[code]) return `TLS error: ${TLS_MESSAGES[code]}`;
  if (NETWORK_MESSAGES[code]) return NETWORK_MESSAGES[code];
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return `TLS error: ${e.message ?? code}`;
  if (code.startsWith('HPE_')) return `invalid HTTP response (${code})`;
  return (e.message ?? String(error)).split('\n')[0]!.slice(0, 300);
}
