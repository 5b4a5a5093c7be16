/** Argument building for the server's commands. Pure; unit-tested. */

/** `[uri, rows]` for `devassist.synthesizeTestData`, or undefined if `rows` is not 1..1e6. */
export function synthArguments(uri: string, rows: string | number): [string, number] | undefined {
  const text = String(rows).trim();
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 1_000_000 ? [uri, n] : undefined;
}

/** `[uri, {line, character}]` for `devassist.generateDocstring` (zero-based, UTF-16). */
export function docstringArguments(uri: string, line: number, character: number): [string, { line: number; character: number }] {
  return [uri, { line, character }];
}
