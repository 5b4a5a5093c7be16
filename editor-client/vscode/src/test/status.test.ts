/** The status bar text and the status notification's validation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isServerStatus, statusView } from '../status';
import { docstringArguments, synthArguments } from '../args';

describe('statusView', () => {
  it('shows a failed start as an error', () => assert.equal(statusView('failed').level, 'error'));
  it('spins while starting', () => assert.match(statusView('starting').text, /sync~spin/));
  it('shows the model when ready', () => assert.equal(statusView('running', { state: 'ready', model: 'default-int8' }).text, '$(check) devassist default-int8'));
  it('shows when the model is busy', () => assert.match(statusView('running', { state: 'busy', model: 'm' }).text, /loading~spin\) devassist m/));
  it('shows review progress from the message', () =>
    assert.equal(statusView('running', { state: 'busy', model: 'm', message: 'reviewed 37 of 79 functions' }).text, '$(loading~spin) devassist: reviewed 37 of 79 functions'));
  it('keeps the model when there is no message', () => assert.equal(statusView('running', { state: 'ready', model: 'm', message: '' }).text, '$(check) devassist m'));
  it('shortens a long message to one line', () => {
    const text = statusView('running', { state: 'ready', model: 'm', message: `${'x'.repeat(100)}\nsecond line` }).text;
    assert.ok(text.endsWith('…') && !text.includes('second') && text.length < 100, text);
  });
  it('rejects a message that is not text', () => assert.ok(!isServerStatus({ state: 'ready', model: 'x', message: 3 })));
  it('puts the message in the tooltip', () => assert.match(statusView('running', { state: 'error', model: 'm', message: 'bad' }).tooltip, /bad/));
});

describe('isServerStatus', () => {
  it('accepts the contract', () => assert.ok(isServerStatus({ state: 'ready', model: 'x' })));
  it('rejects unknown states', () => assert.ok(!isServerStatus({ state: 'sleeping', model: 'x' })));
  it('rejects non-objects', () => assert.ok(!isServerStatus('ready')));
});

describe('command arguments', () => {
  it('docstring: [uri, position]', () => assert.deepEqual(docstringArguments('file:///a.py', 3, 4), ['file:///a.py', { line: 3, character: 4 }]));
  const rows: [string, [string, number] | undefined][] = [
    ['100', ['file:///d.csv', 100]],
    [' 5 ', ['file:///d.csv', 5]],
    ['0', undefined],
    ['-3', undefined],
    ['1.5', undefined],
    ['lots', undefined],
    ['1000001', undefined],
  ];
  for (const [input, expected] of rows) it(`synth rows ${JSON.stringify(input)}`, () => assert.deepEqual(synthArguments('file:///d.csv', input), expected));
});
