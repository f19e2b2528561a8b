// C0 controls, DEL, C1 controls (0x9b is CSI on some terminals) and the two Unicode line
// separators: none may reach a log line or a terminal raw.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_TEST = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.charCodeAt(0);
  return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
}

/**
 * Escapes control characters (`\n`, `\r`, `\t`, `\x1b`, `\u2028`…) so text from a request
 * can neither start a forged log line nor send escape sequences to the terminal that
 * reads the log.
 */
export function escapeControl(text: string): string {
  // The common case, a clean line, costs one scan and no copy.
  return CONTROL_TEST.test(text) ? text.replace(CONTROL, escapeOne) : text;
}

// Inside a JSON string these stay valid and mean the same character; JSON.stringify
// already escapes the C0 range but leaves DEL, C1 and the line separators raw.
const JSON_RAW = /[\u007f-\u009f\u2028\u2029]/g;

/** Escapes what JSON.stringify leaves raw but a terminal would interpret, as `\u` escapes. */
export function escapeJsonLine(line: string): string {
  return line.replace(JSON_RAW, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
