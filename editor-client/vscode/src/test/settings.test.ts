/** Settings resolution: defaults, validation warnings, the server's tree, completion targets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { completionTargets, configurationFor, DEFAULTS, readSettings, toServerSettings } from '../settings';
import { SERVER_SETTINGS } from '../serverSettings';

const getter = (values: Record<string, unknown>) => (key: string) => values[key];

describe('readSettings', () => {
  it('fills every default when nothing is set', () => {
    const { settings, warnings } = readSettings(getter({}));
    assert.deepEqual(settings, DEFAULTS);
    assert.deepEqual(warnings, []);
  });

  it('takes valid values and trims paths', () => {
    const { settings, warnings } = readSettings(
      getter({ 'completion.maxTokens': 64, 'completion.mode': 'both', 'review.threshold': 95.5, 'server.bundle': '  /b  ' }),
    );
    assert.equal(settings.completion.maxTokens, 64);
    assert.equal(settings.completion.mode, 'both');
    assert.equal(settings.review.threshold, 95.5);
    assert.equal(settings.server.bundle, '/b');
    assert.deepEqual(warnings, []);
  });

  const invalid: [string, unknown][] = [
    ['completion.maxTokens', 0],
    ['completion.maxTokens', 12.5],
    ['completion.maxTokens', '48'],
    ['completion.timeBudgetMs', 5],
    ['completion.enabled', 'yes'],
    ['completion.mode', 'ghost'],
    ['docstring.style', 'pep257'],
    ['review.threshold', 101],
    ['review.severity', 'fatal'],
    ['server.command', 42],
  ];
  for (const [key, value] of invalid) {
    it(`keeps the default for ${key}=${JSON.stringify(value)} and warns`, () => {
      const { settings, warnings } = readSettings(getter({ [key]: value }));
      assert.deepEqual(settings, DEFAULTS);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], new RegExp(`^devassist\\.${key.replace('.', '\\.')}: .* is invalid`));
    });
  }

  it('does not share state between calls', () => {
    readSettings(getter({ 'completion.maxTokens': 7 }));
    assert.equal(readSettings(getter({})).settings.completion.maxTokens, 48);
  });
});

describe('toServerSettings', () => {
  it('sends every server setting in camelCase, without client-only keys', () => {
    const { settings } = readSettings(getter({ 'docstring.style': 'numpy', 'completion.mode': 'list', 'server.bundle': '/x' }));
    const tree = toServerSettings(settings);
    assert.equal(tree.docstring.style, 'numpy');
    assert.equal(tree.completion.maxTokens, 48);
    assert.deepEqual(Object.keys(tree).sort(), ['completion', 'docstring', 'learn', 'remote', 'review']);
    assert.ok(!('mode' in tree.completion));
    const sent = Object.entries(tree).flatMap(([group, values]) => Object.keys(values).map((name) => `${group}.${name}`));
    assert.deepEqual(sent, Object.keys(SERVER_SETTINGS));
  });
});

describe('package.json settings page', () => {
  // The generated page (scripts/generate_settings.py) and what the extension reads must agree.
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const properties: Record<string, { default: unknown; minimum?: number; maximum?: number; enum?: string[]; description?: string; markdownDescription?: string }> =
    pkg.contributes.configuration.properties;
  const readable = Object.keys(properties).filter((key) => key !== 'devassist.trace.server'); // read by vscode-languageclient
  it('has a default equal to the extension\'s for every setting it reads', () => {
    for (const key of readable) {
      const [group, name] = key.slice('devassist.'.length).split('.');
      assert.deepEqual(properties[key].default, DEFAULTS[group]?.[name], key);
    }
  });
  it('lists every server setting with a description', () => {
    for (const key of Object.keys(SERVER_SETTINGS)) {
      const entry = properties[`devassist.${key}`];
      assert.ok(entry && (entry.description || entry.markdownDescription), key);
    }
  });
  it('states the bounds and choices the extension enforces', () => {
    for (const key of readable) {
      const { minimum, maximum, enum: choices } = properties[key];
      const short = key.slice('devassist.'.length);
      if (maximum !== undefined) assert.equal(readSettings(getter({ [short]: maximum + 1 })).warnings.length, 1, key);
      if (minimum !== undefined) assert.equal(readSettings(getter({ [short]: minimum - 1 })).warnings.length, 1, key);
      if (choices) assert.equal(readSettings(getter({ [short]: 'not-a-choice' })).warnings.length, 1, key);
    }
  });
});

describe('configurationFor', () => {
  const tree = toServerSettings(DEFAULTS);
  it('answers the whole section', () => assert.deepEqual(configurationFor('devassist', tree), tree));
  it('answers a group', () => assert.deepEqual(configurationFor('devassist.review', tree), tree.review));
  it('answers a leaf', () => assert.equal(configurationFor('devassist.completion.maxTokens', tree), 48));
  it('answers null for an unknown key of ours', () => assert.equal(configurationFor('devassist.nope', tree), null));
  it('leaves other sections alone', () => assert.equal(configurationFor('python', tree), undefined));
  it('leaves a missing section alone', () => assert.equal(configurationFor(undefined, tree), undefined));
});

describe('completionTargets', () => {
  const cases: [string, Record<string, unknown>, { inline: boolean; list: boolean }][] = [
    ['inline (default)', {}, { inline: true, list: false }],
    ['list', { 'completion.mode': 'list' }, { inline: false, list: true }],
    ['both', { 'completion.mode': 'both' }, { inline: true, list: true }],
    ['disabled', { 'completion.enabled': false, 'completion.mode': 'both' }, { inline: false, list: false }],
  ];
  for (const [name, values, expected] of cases) {
    it(name, () => assert.deepEqual(completionTargets(readSettings(getter(values)).settings), expected));
  }
  it('both, with the list open: the list alone, no ghost text of the same suggestion', () =>
    assert.deepEqual(completionTargets(readSettings(getter({ 'completion.mode': 'both' })).settings, true), { inline: false, list: true }));
  it('inline, with a list of other items open: ghost text stays', () =>
    assert.deepEqual(completionTargets(readSettings(getter({})).settings, true), { inline: true, list: false }));
});
