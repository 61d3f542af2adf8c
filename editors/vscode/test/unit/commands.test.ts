import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildIdArgs,
  buildMemoriesForFileArgs,
  buildRecentArgs,
  buildRememberArgs,
  buildSearchArgs,
  extractMemoryId,
  isMemoryKind,
  shownListRequest,
  suggestTitle,
  toLspRange,
} from '../../src/commands';

/** Shaped like vscode.Range: getters and extra members must not leak into the JSON. */
class FakePosition {
  constructor(private readonly _line: number, private readonly _character: number) {}
  get line(): number {
    return this._line;
  }
  get character(): number {
    return this._character;
  }
  translate(): FakePosition {
    return this;
  }
}

test('remember args carry content, uri and a plain LSP range', () => {
  const range = { start: new FakePosition(3, 0), end: new FakePosition(7, 12), isEmpty: false };
  const args = buildRememberArgs({
    content: 'def f():\n    return 1\n',
    title: '  Why f returns 1 ',
    kind: 'decision',
    tags: ['perf', ' ', 'perf', 'api '],
    uri: 'file:///repo/a.py',
    range,
  });
  assert.deepEqual(JSON.parse(JSON.stringify(args)), {
    content: 'def f():\n    return 1\n',
    title: 'Why f returns 1',
    kind: 'decision',
    tags: ['perf', 'api'],
    uri: 'file:///repo/a.py',
    range: { start: { line: 3, character: 0 }, end: { line: 7, character: 12 } },
  });
});

test('remember args omit what is not given; a range without uri is dropped', () => {
  assert.deepEqual(buildRememberArgs({ content: 'x', title: '   ' }), { content: 'x' });
  assert.deepEqual(
    buildRememberArgs({ content: 'x', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } } }),
    { content: 'x' },
  );
});

test('remember rejects empty content and unknown kinds', () => {
  assert.throws(() => buildRememberArgs({ content: '  \n ' }), /empty/);
  assert.throws(() => buildRememberArgs({ content: 'x', kind: 'rant' }), /Unknown memory kind "rant"/);
  assert.equal(isMemoryKind('bugfix'), true);
  assert.equal(isMemoryKind('pitfall'), false);
});

test('toLspRange copies only line/character', () => {
  assert.deepEqual(toLspRange({ start: new FakePosition(1, 2), end: new FakePosition(3, 4) }), {
    start: { line: 1, character: 2 },
    end: { line: 3, character: 4 },
  });
});

test('title suggestions come from the first meaningful line', () => {
  assert.equal(suggestTitle('\n\n  # Retry with backoff  \nmore'), 'Retry with backoff');
  assert.equal(suggestTitle('// keep the lock ordering\nfoo()'), 'keep the lock ordering');
  assert.equal(suggestTitle('/* one-line block */'), 'one-line block');
  assert.equal(suggestTitle('"""Docstring."""'), 'Docstring.');
  assert.equal(suggestTitle(''), '');
  const long = suggestTitle('x'.repeat(200), 20);
  assert.equal(long.length, 20);
  assert.ok(long.endsWith('…'));
});

test('search, recent, memoriesForFile and id args', () => {
  assert.deepEqual(buildSearchArgs('  retry policy ', 'file:///a.py'), { query: 'retry policy', limit: 20, uri: 'file:///a.py' });
  assert.deepEqual(buildSearchArgs('q', undefined, 5), { query: 'q', limit: 5 });
  assert.deepEqual(buildRecentArgs(), { limit: 20 });
  assert.deepEqual(buildMemoriesForFileArgs('file:///a.py'), { uri: 'file:///a.py' });
  assert.deepEqual(buildMemoriesForFileArgs('file:///a.py', 'f'), { uri: 'file:///a.py', symbol: 'f' });
  assert.deepEqual(buildIdArgs(' 01J '), { id: '01J' });
  assert.throws(() => buildIdArgs(' '), /required/);
});

test('memory ids are extracted from every invocation shape', () => {
  assert.equal(extractMemoryId('01HX'), '01HX');
  assert.equal(extractMemoryId({ id: '01HX' }), '01HX');
  assert.equal(extractMemoryId([{ id: '01HX' }]), '01HX');
  assert.equal(extractMemoryId(['01HX']), '01HX');
  assert.equal(extractMemoryId({ type: 'memory', memory: { id: '01HX', title: 't' } }), '01HX');
  assert.equal(extractMemoryId(7), '7');
  assert.equal(extractMemoryId(undefined), undefined);
  assert.equal(extractMemoryId([]), undefined);
  assert.equal(extractMemoryId({ title: 'no id' }), undefined);
  assert.equal(extractMemoryId('  '), undefined);
});

test('lists the server would show ("show": true) are recognised and the flag stripped', () => {
  assert.deepEqual(shownListRequest('devmem.memoriesForFile', [{ uri: 'file:///r/src/a%20b.py', show: true }]), {
    command: 'devmem.memoriesForFile',
    args: { uri: 'file:///r/src/a%20b.py' },
    title: 'DevMemory: memories for a b.py',
  });
  assert.deepEqual(shownListRequest('devmem.memoriesForFile', [{ uri: 'file:///r/a.py', symbol: 'Cls.f', show: true }])?.title, 'DevMemory: memories for Cls.f');
  assert.deepEqual(shownListRequest('devmem.search', [{ query: ' retry\n policy ', limit: 5, show: true }]), {
    command: 'devmem.search',
    args: { query: ' retry\n policy ', limit: 5 },
    title: 'DevMemory: memories about "retry policy"',
  });
  assert.equal(shownListRequest('devmem.search', [{ query: 'x' }]), undefined);
  assert.equal(shownListRequest('devmem.search', [{ query: 'x', show: 'yes' }]), undefined);
  assert.equal(shownListRequest('devmem.open', [{ id: 'x', show: true }]), undefined);
  assert.equal(shownListRequest('devmem.memoriesForFile', ['file:///a.py']), undefined);
  assert.equal(shownListRequest('devmem.search', []), undefined);
});
