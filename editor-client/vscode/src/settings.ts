/**
 * Settings resolution: VS Code's `devassist.*` values -> validated client settings, and the
 * camelCase tree the server reads (`initializationOptions`, `workspace/configuration`).
 *
 * Pure: it sees settings only through a getter, so it is unit-tested without VS Code.
 */

import { SERVER_SETTINGS, type ServerSettingSpec } from './serverSettings';

/** Reads one setting by its key under `devassist.` (`completion.maxTokens`); undefined if unset. */
export type SettingGetter = (key: string) => unknown;

/** Where model completions appear. */
export type CompletionMode = 'inline' | 'list' | 'both';

/** One settings group: camelCase name -> value. */
export type SettingsGroup = Record<string, unknown>;

/**
 * Everything the extension reads, with defaults filled in: its own settings (typed) and every
 * server setting of SERVER_SETTINGS (generated from server/settings.py) under its group.
 */
export interface ClientSettings {
  server: { command: string; pythonPath: string; bundle: string };
  completion: SettingsGroup & { enabled: boolean; mode: CompletionMode };
  synth: { rows: number };
  [group: string]: SettingsGroup;
}

/** The tree the server understands (server/settings.py): `{completion: {maxTokens, ...}, ...}`. */
export type ServerSettings = Record<string, SettingsGroup>;

function splitKey(key: string): [string, string] {
  const dot = key.indexOf('.');
  return [key.slice(0, dot), key.slice(dot + 1)];
}

function buildDefaults(): ClientSettings {
  const settings: ClientSettings = {
    server: { command: '', pythonPath: '', bundle: '' },
    completion: { enabled: true, mode: 'inline' },
    synth: { rows: 100 },
  };
  for (const [key, spec] of Object.entries(SERVER_SETTINGS)) {
    const [group, name] = splitKey(key);
    settings[group] = { ...settings[group], [name]: spec.default };
  }
  return settings;
}

/** Defaults: the client's own, and the server's from its settings tree (so both sides agree). */
export const DEFAULTS: ClientSettings = buildDefaults();

type Check = (value: unknown) => string | undefined;

const isString: Check = (v) => (typeof v === 'string' ? undefined : 'expected a string');
const isBool: Check = (v) => (typeof v === 'boolean' ? undefined : 'expected true or false');
const oneOf =
  (...choices: string[]): Check =>
  (v) =>
    typeof v === 'string' && choices.includes(v) ? undefined : `expected one of ${choices.join(', ')}`;
const numberIn =
  (whole: boolean, lo = -Infinity, hi = Infinity): Check =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && (!whole || Number.isInteger(v)) && v >= lo && v <= hi
      ? undefined
      : `expected ${whole ? 'a whole number' : 'a number'}${Number.isFinite(lo) && Number.isFinite(hi) ? ` from ${lo} to ${hi}` : ''}`;

/** The check for a server setting, from its generated spec. */
function checkFor(spec: ServerSettingSpec): Check {
  if (spec.type === 'boolean') return isBool;
  if (spec.type === 'integer' || spec.type === 'number') return numberIn(spec.type === 'integer', spec.minimum, spec.maximum);
  return spec.enum ? oneOf(...spec.enum) : isString;
}

/** key -> check; the key order is the order warnings are reported in. */
const CHECKS: Record<string, Check> = {
  'server.command': isString,
  'server.pythonPath': isString,
  'server.bundle': isString,
  'completion.mode': oneOf('inline', 'list', 'both'),
  ...Object.fromEntries(Object.entries(SERVER_SETTINGS).map(([key, spec]) => [key, checkFor(spec)])),
  'synth.rows': numberIn(true, 1, 1_000_000),
};

/** The settings with every invalid value replaced by its default, and one warning per value. */
export function readSettings(get: SettingGetter): { settings: ClientSettings; warnings: string[] } {
  const settings = structuredClone(DEFAULTS);
  const warnings: string[] = [];
  for (const [key, check] of Object.entries(CHECKS)) {
    const value = get(key);
    if (value === undefined || value === null) continue;
    const [group, name] = splitKey(key);
    const target = settings[group];
    const problem = check(value);
    if (problem) {
      warnings.push(`devassist.${key}: ${JSON.stringify(value)} is invalid (${problem}); using ${JSON.stringify(target[name])}`);
      continue;
    }
    target[name] = typeof value === 'string' ? value.trim() : value;
  }
  return { settings, warnings };
}

/** The tree sent to the server: every server setting under its group, camelCase. */
export function toServerSettings(s: ClientSettings): ServerSettings {
  const out: ServerSettings = {};
  for (const key of Object.keys(SERVER_SETTINGS)) {
    const [group, name] = splitKey(key);
    // List-only or inline-only is decided in the client; the server just needs to answer.
    out[group] = { ...out[group], [name]: s[group]?.[name] };
  }
  return out;
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

/**
 * Whether completions from the server go to ghost text / to the completion list. In 'both'
 * mode the ghost text steps aside while the completion list is open (`listOpen`), so the same
 * suggestion is never shown twice at once.
 */
export function completionTargets(s: ClientSettings, listOpen = false): { inline: boolean; list: boolean } {
  const on = s.completion.enabled;
  return {
    inline: on && s.completion.mode !== 'list' && !(s.completion.mode === 'both' && listOpen),
    list: on && s.completion.mode !== 'inline',
  };
}
