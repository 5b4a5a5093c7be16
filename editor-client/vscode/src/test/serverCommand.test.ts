/** Server command resolution and argument building. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayCommand, expandPath, resolveServerCommand, serveArgs, whichOn, type Environment } from '../serverCommand';

function env(onPath: Record<string, string> = {}, extra: Partial<Environment> = {}): Environment {
  return { home: '/home/ada', workspaceFolder: '/ws', env: { VENV: '/venvs/a' }, platform: 'linux', which: (n) => onPath[n], ...extra };
}
const none = { command: '', pythonPath: '', bundle: '' };

describe('expandPath', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['~/models/b', '/home/ada/models/b'],
    ['${userHome}/b', '/home/ada/b'],
    ['${workspaceFolder}/models/default', '/ws/models/default'],
    ['${env:VENV}/bin/python', '/venvs/a/bin/python'],
    ['models/default', '/ws/models/default'],
    ['devassist', 'devassist'],
    ['/abs/path', '/abs/path'],
  ];
  for (const [input, expected] of cases) it(`${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () => assert.equal(expandPath(input, env()), expected));
});

describe('serveArgs', () => {
  it('is just serve without a bundle', () => assert.deepEqual(serveArgs('', env()), ['serve']));
  it('adds --bundle with the expanded folder', () => assert.deepEqual(serveArgs('~/b', env()), ['serve', '--bundle', '/home/ada/b']));
});

describe('resolveServerCommand', () => {
  it('prefers the command setting', () => {
    const cmd = resolveServerCommand({ ...none, command: '/opt/bin/devassist', pythonPath: '/usr/bin/python3' }, env({ devassist: '/usr/bin/devassist' }));
    assert.deepEqual(cmd, { command: '/opt/bin/devassist', args: ['serve'], source: 'setting:command' });
  });
  it('runs the module with the pythonPath setting', () => {
    const cmd = resolveServerCommand({ ...none, pythonPath: '${workspaceFolder}/.venv/bin/python', bundle: 'models/default' }, env());
    assert.deepEqual(cmd, {
      command: '/ws/.venv/bin/python',
      args: ['-m', 'devassist.server', 'serve', '--bundle', '/ws/models/default'],
      source: 'setting:pythonPath',
    });
  });
  it('finds devassist on the PATH', () => {
    assert.deepEqual(resolveServerCommand(none, env({ devassist: '/usr/local/bin/devassist', python3: '/usr/bin/python3' })), {
      command: '/usr/local/bin/devassist',
      args: ['serve'],
      source: 'path:devassist',
    });
  });
  it('falls back to python3 -m devassist.server', () => {
    assert.deepEqual(resolveServerCommand(none, env({ python3: '/usr/bin/python3', python: '/usr/bin/python' })), {
      command: '/usr/bin/python3',
      args: ['-m', 'devassist.server', 'serve'],
      source: 'path:python',
    });
  });
  it('prefers python on Windows', () => {
    const cmd = resolveServerCommand(none, env({ python: 'C:\\Py\\python.exe', python3: 'C:\\Py\\python3.exe' }, { platform: 'win32' }));
    assert.equal(cmd?.command, 'C:\\Py\\python.exe');
  });
  it('is undefined when nothing can run the server', () => assert.equal(resolveServerCommand(none, env()), undefined));
});

describe('whichOn', () => {
  it('searches PATH in order', () => {
    const exists = new Set(['/b/devassist', '/c/devassist']);
    assert.equal(whichOn('/a:/b:/c', 'linux', (f) => exists.has(f))('devassist'), '/b/devassist');
  });
  it('tries PATHEXT on Windows', () => {
    const exists = new Set(['C:\\Py\\python.exe']);
    assert.equal(whichOn('C:\\Tools;C:\\Py', 'win32', (f) => exists.has(f), '.EXE;.CMD')('python'), 'C:\\Py\\python.exe');
  });
  it('is undefined for an empty PATH', () => assert.equal(whichOn(undefined, 'linux', () => true)('x'), undefined));
});

describe('displayCommand', () => {
  it('quotes arguments with spaces', () => {
    assert.equal(displayCommand({ command: '/usr/bin/python3', args: ['-m', 'devassist.server', 'serve', '--bundle', '/my models/b'], source: 'path:python' }),
      "/usr/bin/python3 -m devassist.server serve --bundle '/my models/b'");
  });
});
