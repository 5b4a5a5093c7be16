/** stderr lines of the server reach the Output channel at their own level, not all as errors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stderrLevel, stderrLogger, type LogLevel } from '../serverLog';

describe('stderrLevel', () => {
  const cases: [string, LogLevel][] = [
    ['devassist DEBUG tokens 12', 'debug'],
    ['devassist INFO loaded bundle default', 'info'],
    ['devassist WARNING no review component', 'warn'],
    ['devassist ERROR completion failed', 'error'],
    ['devassist CRITICAL out of memory', 'error'],
  ];
  for (const [line, level] of cases) it(line, () => assert.equal(stderrLevel(line, undefined), level));
  it('an unformatted first line is an error', () => assert.equal(stderrLevel('Traceback (most recent call last):', undefined), 'error'));
  it('a continuation keeps the level of its record', () => assert.equal(stderrLevel('  File "x.py", line 3', 'warn'), 'warn'));
});

describe('stderrLogger', () => {
  it('logs each line once at its level, without the prefix', () => {
    const seen: [LogLevel, string][] = [];
    const log = (level: LogLevel) => (message: string) => seen.push([level, message]);
    const feed = stderrLogger({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') });
    for (const line of ['devassist INFO ready', 'devassist WARNING slow', '  detail of the warning', 'devassist INFO next']) feed(line);
    assert.deepEqual(seen, [['info', 'ready'], ['warn', 'slow'], ['warn', '  detail of the warning'], ['info', 'next']]);
  });
});
