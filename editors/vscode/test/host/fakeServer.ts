/**
 * A tiny in-memory server that follows docs/lsp-contract.md, for exercising the extension's
 * client side without Python. Run: node fakeServer.js [--version].
 * Extra (non-contract) command `fake.state` returns what the client sent.
 */
import { fileURLToPath } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { Commands, MEMORIES_CHANGED, type MemorySummary, type Range, type RememberArgs } from '../../src/protocol';

if (process.argv.includes('--version')) {
  process.stdout.write('devmem-lsp 0.1.0 (fake)\n');
  process.exit(0);
}

interface Memory extends MemorySummary {
  content: string;
  uri?: string;
  range?: Range;
}

const memories: Memory[] = [];
const documents = new Map<string, string>();
const state: { initializationOptions?: unknown; configuration?: unknown; didChangeConfiguration: unknown[] } = {
  didChangeConfiguration: [],
};
let seq = 0;
let shutdown = false;

const conn = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));

const summary = (m: Memory): MemorySummary => {
  const { content: _c, uri: _u, range: _r, ...rest } = m;
  return rest;
};

function requireId(arg: unknown): string {
  const id = typeof arg === 'string' ? arg : (arg as { id?: unknown })?.id;
  if (typeof id !== 'string') throw new Error('an id is required: pass {"id": "<memory id>"}');
  return id;
}

function find(id: string): Memory {
  const m = memories.find((x) => x.id === id);
  if (!m) throw new Error(`no memory ${id}: search for it with devmem.search`);
  return m;
}

const handlers: Record<string, (arg: never) => unknown> = {
  [Commands.remember]: (a: RememberArgs) => {
    if (!a?.content) throw new Error('content is required');
    const id = `01FAKE${String(++seq).padStart(20, '0')}`;
    const m: Memory = {
      id,
      title: a.title ?? a.content.split('\n')[0].slice(0, 60),
      kind: a.kind ?? 'note',
      date: new Date().toISOString(),
      snippet: a.content.slice(0, 120),
      tags: a.tags ?? [],
      content: a.content,
      uri: a.uri,
      range: a.range,
    };
    if (a.uri?.startsWith('file:')) {
      m.path = fileURLToPath(a.uri);
      if (a.range) m.line = a.range.start.line + 1;
    }
    memories.push(m);
    void conn.sendNotification(MEMORIES_CHANGED, {});
    return { id, title: m.title, kind: m.kind, status: 'created', redactions: [] };
  },
  [Commands.search]: (a: { query: string; limit?: number }) => {
    const words = (a?.query ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const hits = memories
      .filter((m) => words.some((w) => `${m.title} ${m.content}`.toLowerCase().includes(w)))
      .slice(0, a?.limit ?? 20)
      .map((m) => ({ ...summary(m), score: 0.9, why: 'text match' }));
    return { hits };
  },
  [Commands.open]: (a: unknown) => {
    const m = find(requireId(a));
    return { id: m.id, title: m.title, markdown: `# ${m.title}\n\n${m.content}\n`, memory: summary(m) };
  },
  [Commands.forget]: (a: unknown) => {
    const m = find(requireId(a));
    memories.splice(memories.indexOf(m), 1);
    void conn.sendNotification(MEMORIES_CHANGED, {});
    return { id: m.id, title: m.title, removed: true };
  },
  [Commands.reindex]: () => ({ count: memories.length }),
  [Commands.memoriesForFile]: (a: { uri: string }) => ({ hits: memories.filter((m) => m.uri === a?.uri).map(summary) }),
  [Commands.recent]: (a: { limit?: number }) => ({ hits: [...memories].reverse().slice(0, a?.limit ?? 20).map(summary) }),
  [Commands.link]: (a: { id: string; target: string; type?: string }) => ({ source: a.id, target: a.target, type: a.type ?? 'related' }),
  'fake.state': () => state,
};

conn.onRequest('initialize', (params: { initializationOptions?: unknown }) => {
  state.initializationOptions = params.initializationOptions;
  return {
    capabilities: {
      textDocumentSync: 1,
      hoverProvider: true,
      executeCommandProvider: { commands: Object.keys(handlers) },
    },
    serverInfo: { name: 'devmem-lsp', version: '0.1.0' },
  };
});
conn.onNotification('initialized', async () => {
  const [config] = (await conn.sendRequest('workspace/configuration', { items: [{ section: 'devmemory' }] })) as unknown[];
  state.configuration = config;
});
conn.onNotification('workspace/didChangeConfiguration', (p: { settings: unknown }) => {
  state.didChangeConfiguration.push(p.settings);
});
conn.onNotification('textDocument/didOpen', (p: { textDocument: { uri: string; text: string } }) => {
  documents.set(p.textDocument.uri, p.textDocument.text);
});
conn.onNotification('textDocument/didChange', (p: { textDocument: { uri: string }; contentChanges: { text: string }[] }) => {
  documents.set(p.textDocument.uri, p.contentChanges[p.contentChanges.length - 1].text);
});
conn.onNotification('textDocument/didClose', (p: { textDocument: { uri: string } }) => documents.delete(p.textDocument.uri));
conn.onRequest('textDocument/hover', (p: { textDocument: { uri: string }; position: { line: number } }) => {
  const hits = memories
    .filter((m) => m.uri === p.textDocument.uri && m.range && m.range.start.line <= p.position.line && p.position.line <= m.range.end.line)
    .slice(0, 3);
  if (hits.length === 0) return null;
  const value = hits
    .map((m) => {
      const args = encodeURIComponent(JSON.stringify({ id: m.id }));
      return `**[${m.kind}]** ${m.title} — ${m.date.slice(0, 10)}\n${m.snippet}\n[open](command:devmem.open?${args})`;
    })
    .join('\n\n---\n\n');
  return { contents: { kind: 'markdown', value } };
});
conn.onRequest('workspace/executeCommand', (p: { command: string; arguments?: unknown[] }) => {
  const handler = handlers[p.command];
  if (!handler) throw new Error(`unknown command ${p.command}`);
  return handler((p.arguments ?? [])[0] as never);
});
conn.onRequest('shutdown', () => {
  shutdown = true;
  return null;
});
conn.onNotification('exit', () => process.exit(shutdown ? 0 : 1));
conn.onClose(() => process.exit(shutdown ? 0 : 1));
conn.listen();
