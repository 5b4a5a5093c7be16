/** Settings resolution: defaults, validation warnings, the server's tree, completion targets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { completionTargets, configurationFor, DEFAULTS, readSettings, toServerSettings } from '../settings';

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
  it('sends the server tree in camelCase without client-only keys', () => {
    const { settings } = readSettings(getter({ 'docstring.style': 'numpy', 'completion.mode': 'list', 'server.bundle': '/x' }));
    assert.deepEqual(toServerSettings(settings), {
      completion: { enabled: true, maxTokens: 48, timeBudgetMs: 300, multiline: true },
      docstring: { style: 'numpy' },
      review: { enabled: true, threshold: 99, severity: 'hint', maxDiagnostics: 10 },
    });
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
});
