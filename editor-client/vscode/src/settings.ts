/**
 * Settings resolution: VS Code's `devassist.*` values -> validated client settings, and the
 * camelCase tree the server reads (`initializationOptions`, `workspace/configuration`).
 *
 * Pure: it sees settings only through a getter, so it is unit-tested without VS Code.
 */

/** Reads one setting by its key under `devassist.` (`completion.maxTokens`); undefined if unset. */
export type SettingGetter = (key: string) => unknown;

/** Where model completions appear. */
export type CompletionMode = 'inline' | 'list' | 'both';

/** Everything the extension reads, with defaults filled in. */
export interface ClientSettings {
  server: { command: string; pythonPath: string; bundle: string };
  completion: {
    enabled: boolean;
    mode: CompletionMode;
    maxTokens: number;
    timeBudgetMs: number;
    multiline: boolean;
  };
  docstring: { style: 'google' | 'numpy' | 'sphinx' };
  review: {
    enabled: boolean;
    threshold: number;
    severity: 'error' | 'warning' | 'information' | 'hint';
    maxDiagnostics: number;
  };
  synth: { rows: number };
}

/** The subtree the server understands (see server/settings.py); client-only keys removed. */
export interface ServerSettings {
  completion: { enabled: boolean; maxTokens: number; timeBudgetMs: number; multiline: boolean };
  docstring: { style: string };
  review: { enabled: boolean; threshold: number; severity: string; maxDiagnostics: number };
}

/** Defaults, the same as package.json's and the server's. */
export const DEFAULTS: ClientSettings = {
  server: { command: '', pythonPath: '', bundle: '' },
  completion: { enabled: true, mode: 'inline', maxTokens: 48, timeBudgetMs: 300, multiline: true },
  docstring: { style: 'google' },
  review: { enabled: true, threshold: 99, severity: 'hint', maxDiagnostics: 10 },
  synth: { rows: 100 },
};

type Check = (value: unknown) => string | undefined;

const isString: Check = (v) => (typeof v === 'string' ? undefined : 'expected a string');
const isBool: Check = (v) => (typeof v === 'boolean' ? undefined : 'expected true or false');
const oneOf =
  (...choices: string[]): Check =>
  (v) =>
    typeof v === 'string' && choices.includes(v) ? undefined : `expected one of ${choices.join(', ')}`;
const intIn =
  (lo: number, hi: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi
      ? undefined
      : `expected a whole number from ${lo} to ${hi}`;
const numIn =
  (lo: number, hi: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi
      ? undefined
      : `expected a number from ${lo} to ${hi}`;

/** key -> check; the key order is the order warnings are reported in. */
const CHECKS: Record<string, Check> = {
  'server.command': isString,
  'server.pythonPath': isString,
  'server.bundle': isString,
  'completion.enabled': isBool,
  'completion.mode': oneOf('inline', 'list', 'both'),
  'completion.maxTokens': intIn(1, 512),
  'completion.timeBudgetMs': intIn(10, 60_000),
  'completion.multiline': isBool,
  'docstring.style': oneOf('google', 'numpy', 'sphinx'),
  'review.enabled': isBool,
  'review.threshold': numIn(0, 100),
  'review.severity': oneOf('error', 'warning', 'information', 'hint'),
  'review.maxDiagnostics': intIn(0, 1000),
  'synth.rows': intIn(1, 1_000_000),
};

/** The settings with every invalid value replaced by its default, and one warning per value. */
export function readSettings(get: SettingGetter): { settings: ClientSettings; warnings: string[] } {
  const settings = structuredClone(DEFAULTS);
  const warnings: string[] = [];
  for (const [key, check] of Object.entries(CHECKS)) {
    const value = get(key);
    if (value === undefined || value === null) continue;
    const [group, name] = key.split('.');
    const target = (settings as unknown as Record<string, Record<string, unknown>>)[group];
    const problem = check(value);
    if (problem) {
      warnings.push(`devassist.${key}: ${JSON.stringify(value)} is invalid (${problem}); using ${JSON.stringify(target[name])}`);
      continue;
    }
    target[name] = typeof value === 'string' ? value.trim() : value;
  }
  return { settings, warnings };
}

/** The tree sent to the server: `{completion, docstring, review}`, camelCase. */
export function toServerSettings(s: ClientSettings): ServerSettings {
  return {
    completion: {
      // List-only or inline-only is decided in the client; the server just needs to answer.
      enabled: s.completion.enabled,
      maxTokens: s.completion.maxTokens,
      timeBudgetMs: s.completion.timeBudgetMs,
      multiline: s.completion.multiline,
    },
    docstring: { style: s.docstring.style },
    review: {
      enabled: s.review.enabled,
      threshold: s.review.threshold,
      severity: s.review.severity,
      maxDiagnostics: s.review.maxDiagnostics,
    },
  };
}

/**
 * The answer to one `workspace/configuration` item: `devassist` -> the whole tree,
 * `devassist.review` -> that group, anything else -> undefined (not ours).
 */
export function configurationFor(section: string | undefined, s: ServerSettings): unknown {
  if (section === 'devassist') return s;
  if (section?.startsWith('devassist.')) {
    let node: unknown = s;
    for (const part of section.slice('devassist.'.length).split('.')) {
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
    }
    return node ?? null;
  }
  return undefined;
}

/** Whether completions from the server go to ghost text / to the completion list. */
export function completionTargets(s: ClientSettings): { inline: boolean; list: boolean } {
  const on = s.completion.enabled;
  return {
    inline: on && s.completion.mode !== 'list',
    list: on && s.completion.mode !== 'inline',
  };
}
