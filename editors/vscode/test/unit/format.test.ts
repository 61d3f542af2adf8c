import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  kindIcon,
  location,
  memoryDocument,
  memoryIdFromPath,
  memoryPath,
  memoryUriString,
  missingMemoryDocument,
  oneLine,
  rememberedMessage,
  shortDate,
  toPickItem,
  toTreeItem,
  tooltipMarkdown,
} from '../../src/format';
import type { MemorySummary } from '../../src/protocol';

const summary: MemorySummary = {
  id: '01HZY3K5Q8V0000000000000AB',
  title: 'Checksum must stay 16-bit',
  kind: 'decision',
  date: '2025-03-01T10:00:00Z',
  snippet: 'The firmware   compares\nonly the low 16 bits.',
  score: 0.82,
  why: 'anchored to compute_checksum',
  path: 'src/sample.py',
  line: 12,
  project: 'firmware',
  tags: ['checksum', 'firmware'],
};

test('QuickPick item: icon + title, kind · date · location, why + snippet', () => {
  assert.deepEqual(toPickItem(summary), {
    label: '$(law) Checksum must stay 16-bit',
    description: 'decision · 2025-03-01 · src/sample.py:12',
    detail: 'anchored to compute_checksum — The firmware compares only the low 16 bits.',
    id: summary.id,
  });
});

test('paths can be shown relative to the workspace', () => {
  const abs = { ...summary, path: '/work/repo/src/sample.py' };
  const rel = (p: string) => p.replace('/work/repo/', '');
  assert.equal(toPickItem(abs, rel).description, 'decision · 2025-03-01 · src/sample.py:12');
  assert.match(toTreeItem(abs, rel).tooltip, /`src\/sample\.py:12`/);
  assert.equal(toPickItem(abs).description, 'decision · 2025-03-01 · /work/repo/src/sample.py:12');
});

test('QuickPick item for a minimal summary', () => {
  const m: MemorySummary = { id: 'X', title: '', kind: 'weird', date: 'yesterday', snippet: '', tags: [] };
  assert.deepEqual(toPickItem(m), { label: '$(lightbulb) (untitled X)', description: 'weird · yesterday', detail: '', id: 'X' });
});

test('tree item data', () => {
  const item = toTreeItem(summary);
  assert.equal(item.label, 'Checksum must stay 16-bit');
  assert.equal(item.description, 'decision · 2025-03-01');
  assert.equal(item.icon, 'law');
  assert.equal(item.id, summary.id);
  assert.match(item.tooltip, /^\*\*\[decision\]\*\* Checksum must stay 16\\-bit — 2025-03-01/);
  assert.match(item.tooltip, /`src\/sample\.py:12`/);
  assert.match(item.tooltip, /`#checksum` `#firmware`/);
});

test('tooltip escapes markdown in titles', () => {
  const md = tooltipMarkdown({ ...summary, title: '[x](command:evil)', why: undefined, snippet: '', tags: [], path: undefined });
  assert.equal(md, '**[decision]** \\[x\\]\\(command:evil\\) — 2025-03-01');
});

test('small helpers', () => {
  assert.equal(kindIcon('bugfix'), 'bug');
  assert.equal(kindIcon('unknown'), 'lightbulb');
  assert.equal(shortDate('2024-12-31'), '2024-12-31');
  assert.equal(shortDate('soon'), 'soon');
  assert.equal(oneLine(' a \n\t b '), 'a b');
  assert.equal(oneLine('abcdef', 4), 'abc…');
  assert.equal(oneLine(undefined), '');
  assert.equal(location({ path: 'a.py' }), 'a.py');
  assert.equal(location({}), '');
});

test('memory document: server markdown plus a metadata table', () => {
  const doc = memoryDocument({ id: summary.id, title: summary.title, markdown: '# Checksum must stay 16-bit\n\nBody.\n\n', memory: summary });
  assert.ok(doc.startsWith('# Checksum must stay 16-bit\n\nBody.\n\n---\n'));
  assert.match(doc, /\| id \| 01HZY3K5Q8V0000000000000AB \|/);
  assert.match(doc, /\| anchor \| src\/sample\.py:12 \|/);
  assert.match(doc, /\| tags \| checksum, firmware \|/);
  assert.doesNotMatch(doc, /\| project \| \|/);
  assert.match(missingMemoryDocument('X', 'gone'), /could not be opened: gone/);
});

test('memory URIs round-trip', () => {
  assert.equal(memoryPath('01HX'), '/memory/01HX.md');
  assert.equal(memoryUriString('01HX'), 'devmemory:/memory/01HX.md');
  assert.equal(memoryIdFromPath('/memory/01HX.md'), '01HX');
  assert.equal(memoryIdFromPath(memoryPath('a/b c')), 'a/b c');
  assert.equal(memoryIdFromPath('/memory/.md'), undefined);
  assert.equal(memoryIdFromPath('/other/01HX.md'), undefined);
  assert.equal(memoryIdFromPath('/memory/%E0%A4%A.md'), undefined);
});

test('remembered message mentions status and redactions', () => {
  assert.equal(
    rememberedMessage({ id: '1', title: 'T', kind: 'note', status: 'created', redactions: [] }),
    'DevMemory: remembered note "T".',
  );
  assert.equal(
    rememberedMessage({ id: '1', title: 'T', kind: 'bugfix', status: 'updated', redactions: ['api_key', 'api_key', 'email'] }),
    'DevMemory: remembered bugfix "T" (updated) — redacted: api_key, email.',
  );
});
