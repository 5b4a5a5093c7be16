/** A failed start becomes one notification naming the fix. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeStartupFailure, LineTail } from '../startupError';
import type { ServerCommand } from '../serverCommand';

const python: ServerCommand = { command: '/usr/bin/python3', args: ['-m', 'devassist.server', 'serve'], source: 'path:python' };

describe('describeStartupFailure', () => {
  it('no Python at all', () => {
    const p = describeStartupFailure({ stderr: [] });
    assert.equal(p.kind, 'noPython');
    assert.match(p.message, /pip install 'devassist\[cpu\]'/);
    assert.deepEqual(p.actions, ['openSettings']);
  });
  it('a command that does not exist', () => {
    const p = describeStartupFailure({ command: { ...python, command: '/nope/python' }, spawnError: { code: 'ENOENT', message: 'spawn ENOENT' }, stderr: [] });
    assert.equal(p.kind, 'notFound');
    assert.match(p.message, /`\/nope\/python` was not found/);
  });
  it('a command that is not executable', () => {
    const p = describeStartupFailure({ command: python, spawnError: { code: 'EACCES', message: 'EACCES' }, stderr: [] });
    assert.match(p.message, /is not executable/);
  });
  it('devassist not installed in that Python', () => {
    const p = describeStartupFailure({ command: python, exitCode: 1, stderr: ['/usr/bin/python3: No module named devassist'] });
    assert.equal(p.kind, 'notInstalled');
    assert.match(p.message, /\/usr\/bin\/python3 -m pip install 'devassist\[cpu\]'/);
  });
  it('a corrupt bundle names the file', () => {
    const line = 'devassist: /b/manifest.json: sha256 of lm.onnx does not match (corrupt bundle?)';
    const p = describeStartupFailure({ command: python, exitCode: 2, stderr: ['loading...', line] });
    assert.equal(p.kind, 'badBundle');
    assert.ok(p.message.includes(line));
    assert.match(p.message, /devassist\.server\.bundle/);
  });
  it('any other crash quotes the last stderr line, not a traceback frame', () => {
    const p = describeStartupFailure({
      command: python,
      exitCode: 1,
      stderr: ['Traceback (most recent call last):', '  File "x.py", line 1, in <module>', 'RuntimeError: boom', ''],
    });
    assert.equal(p.kind, 'crashed');
    assert.match(p.message, /exited with code 1: RuntimeError: boom/);
    assert.deepEqual(p.actions, ['showOutput', 'restart']);
  });
});

describe('LineTail', () => {
  it('joins lines split across chunks and keeps the last N', () => {
    const tail = new LineTail(2);
    assert.deepEqual(tail.push('a\nb'), ['a']);
    assert.deepEqual(tail.push('c\nd\ne'), ['bc', 'd']);
    assert.deepEqual(tail.get(), ['bc', 'd', 'e']);
  });
});
