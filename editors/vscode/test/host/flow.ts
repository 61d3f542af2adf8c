/**
 * The extension driven end to end through its own commands, against a given server:
 * activate → remember selection → hover (+ its devmem.open link) → view → live search →
 * forget → restart → deactivate.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CancellationTokenSource,
  createFakeVscode,
  FakeTextDocument,
  MarkdownString,
  Position,
  Selection,
  Uri,
  type FakeVscode,
  type TreeItem,
} from './fakeVscode';
import { FUNCTION_LINE, SAMPLE, TITLE } from '../fixtures';
import { loadExtension, waitFor } from './load';

type Node = { type: string; text?: string; section?: string; memory?: { id: string; title: string } };
interface Tree {
  getChildren(n?: Node): Promise<Node[]>;
  getTreeItem(n: Node): TreeItem;
  onDidChangeTreeData(l: () => void): { dispose(): void };
}
interface HoverProvider {
  provideHover(doc: unknown, pos: Position, token: unknown): Promise<{ contents: unknown[] } | null | undefined>;
}

export interface FlowOptions {
  serverCommand: string;
  serverArgs?: string[];
  /** The server provides code lenses (the fake one does not). */
  expectCodeLens?: boolean;
  /** Extra checks once the memory exists (e.g. the fake server's recorded state). */
  inspect?: (fake: FakeVscode, ctx: { memoryId: string; dbPath: string; workspace: string }) => Promise<void>;
  /** Appended to assertion messages (e.g. the server log). */
  diagnostics?: (fake: FakeVscode) => string;
}

const token = () => new CancellationTokenSource().token;

function hoverMarkdown(hover: { contents: unknown[] } | null | undefined): { text: string; trusted: unknown } {
  const parts = hover?.contents ?? [];
  const text = parts.map((c) => (c instanceof MarkdownString ? c.value : typeof c === 'string' ? c : (c as { value?: string })?.value ?? '')).join('\n');
  const md = parts.find((c): c is MarkdownString => c instanceof MarkdownString);
  return { text, trusted: md?.isTrusted };
}

/** VS Code's command-URI rule: a JSON array is spread into arguments, anything else is one. */
function commandLinkArgs(markdown: string, command: string): unknown[] | undefined {
  const m = new RegExp(`command:${command.replace('.', '\\.')}\\?([^)\\s]+)`).exec(markdown);
  if (!m) return undefined;
  const parsed = JSON.parse(decodeURIComponent(m[1]));
  return Array.isArray(parsed) ? parsed : [parsed];
}

export async function runExtensionFlow(opts: FlowOptions): Promise<void> {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'devmem-flow-'));
  const dbPath = path.join(workspace, 'memories.db');
  fs.mkdirSync(path.join(workspace, 'src'));
  const file = path.join(workspace, 'src', 'checksum.py');
  fs.writeFileSync(file, SAMPLE);

  const fake = createFakeVscode({
    workspaceFolder: workspace,
    config: {
      'devmemory.server.command': opts.serverCommand,
      'devmemory.server.args': opts.serverArgs ?? [],
      'devmemory.database.path': dbPath,
      'devmemory.trace.server': 'off',
    },
  });
  const { ext, context, unload } = loadExtension(fake);
  const diag = () => (opts.diagnostics ? opts.diagnostics(fake) : '') + `\n--- DevMemory output ---\n${(fake.outputs.get('DevMemory') ?? []).slice(-60).join('\n')}`;
  try {
    await ext.activate(context);
    assert.deepEqual(fake.messages.filter((m) => m.level === 'error'), []);
    assert.ok(fake.commands.has('devmem.open'), 'the client did not register devmem.open (executeCommandProvider)');

    // Remember the function, selected in the editor.
    const doc = new FakeTextDocument(Uri.file(file), 'python', 1, SAMPLE);
    const lastLine = SAMPLE.split('\n')[FUNCTION_LINE + 2];
    fake.openEditor(doc, new Selection(new Position(FUNCTION_LINE, 0), new Position(FUNCTION_LINE + 2, lastLine.length)));
    fake.answers.quickPick = (items) => (items as { label: string }[]).find((i) => i.label === 'decision');
    fake.answers.inputBox = (o) => {
      assert.equal((o as { value: string }).value, 'def compute_checksum(data: bytes) -> int:');
      return TITLE;
    };
    await fake.commands.get('devmemory.rememberSelection')!();
    const remembered = fake.messages.find((m) => m.level === 'info' && m.message.includes('remembered'));
    assert.ok(remembered, `no confirmation: ${JSON.stringify(fake.messages)}`);
    assert.match(remembered.message, new RegExp(`remembered decision "${TITLE}"`));

    // The view lists it under "This File" and "Recent".
    const tree = fake.treeProviders.get('devmemory.memories') as Tree;
    const [fileSection, recentSection] = await tree.getChildren();
    const inFile = await waitFor('memory in "This File"', async () =>
      (await tree.getChildren(fileSection)).find((n) => n.memory?.title === TITLE),
    );
    const memoryId = inFile.memory!.id;
    const item = tree.getTreeItem(inFile);
    assert.equal(item.label, TITLE);
    assert.deepEqual(item.command?.arguments, [memoryId]);
    assert.equal(item.contextValue, 'memory');
    assert.ok((await tree.getChildren(recentSection)).some((n) => n.memory?.id === memoryId));

    // Hover on the function name, then follow its devmem.open link.
    const hoverProvider = fake.providers.find((p) => p.kind === 'HoverProvider')?.provider as HoverProvider | undefined;
    assert.ok(hoverProvider, 'no hover provider registered');
    const hover = await waitFor(
      'hover with the title',
      async () => {
        const h = hoverMarkdown(await hoverProvider.provideHover(doc, new Position(FUNCTION_LINE, 8), token()));
        return h.text.includes(TITLE) ? h : undefined;
      },
      15_000,
    );
    assert.deepEqual(hover.trusted, { enabledCommands: ['devmem.open', 'devmemory.openMemory'] });
    const linkArgs = commandLinkArgs(hover.text, 'devmem.open');
    assert.ok(linkArgs, `hover has no devmem.open link:\n${hover.text}`);
    await fake.commands.get('devmem.open')!(...linkArgs);
    const shown = fake.shownDocuments.at(-1);
    assert.equal(shown?.uri.toString(), `devmemory:/memory/${memoryId}.md`);
    assert.ok(shown?.getText().includes(TITLE), shown?.getText());
    assert.ok(shown?.getText().includes(`| id | ${memoryId} |`));

    // A code lens on the function lists its memories in a QuickPick (server's "show": true).
    if (opts.expectCodeLens) {
      const lensProvider = fake.providers.find((p) => p.kind === 'CodeLensProvider')?.provider as
        | { provideCodeLenses(doc: unknown, token: unknown): Promise<{ command?: { command: string; arguments?: unknown[] } }[]> }
        | undefined;
      assert.ok(lensProvider, 'no code lens provider registered');
      const lens = await waitFor('code lens', async () => (await lensProvider.provideCodeLenses(doc, token()))?.find((l) => l.command), 15_000);
      let pickerTitle = '';
      fake.answers.quickPick = (items, o) => {
        pickerTitle = (o as { title: string }).title;
        return (items as { memory?: { id: string } }[]).find((i) => i.memory?.id === memoryId);
      };
      const before = fake.shownDocuments.length;
      await fake.commands.get(lens.command!.command)!(...(lens.command!.arguments ?? []));
      assert.match(pickerTitle, /^DevMemory: memories for /);
      assert.equal(fake.shownDocuments.length, before + 1);
      assert.equal(fake.shownDocuments.at(-1)?.uri.toString(), `devmemory:/memory/${memoryId}.md`);
    }

    // Live search: type, wait for results, pick one → it opens.
    const searching = fake.commands.get('devmemory.search')!() as Promise<void>;
    const qp = await waitFor('quick pick', () => fake.quickPicks.at(-1));
    await waitFor('recent items', () => (qp.items.length > 0 && !qp.busy ? true : undefined), 15_000);
    qp.type('firmware checksum');
    const hit = await waitFor('search hit', () => (!qp.busy ? qp.items.find((i) => i.memory?.id === memoryId) : undefined), 15_000);
    qp.selectedItems = [hit];
    qp.accept();
    await searching;
    assert.equal(fake.shownDocuments.at(-1)?.uri.toString(), `devmemory:/memory/${memoryId}.md`);

    await opts.inspect?.(fake, { memoryId, dbPath, workspace });

    // Forget it from the view, after the modal confirmation.
    let refreshed = 0;
    const sub = tree.onDidChangeTreeData(() => refreshed++);
    fake.answers.warning = (msg) => {
      assert.equal(msg, `Forget "${TITLE}"?`);
      return 'Forget';
    };
    await fake.commands.get('devmemory.forget')!(inFile);
    assert.ok(fake.messages.some((m) => m.level === 'info' && m.message === `DevMemory: forgot "${TITLE}".`), JSON.stringify(fake.messages));
    await waitFor('view refresh', () => (refreshed > 0 ? true : undefined), 5_000);
    sub.dispose();
    assert.ok(!(await tree.getChildren(fileSection)).some((n) => n.memory?.id === memoryId));

    // Restart keeps everything working.
    await fake.commands.get('devmemory.restartServer')!();
    assert.notDeepEqual(await tree.getChildren(recentSection), [{ type: 'message', text: 'Server not running', icon: 'debug-disconnect' }]);
    assert.deepEqual(fake.messages.filter((m) => m.level === 'error'), []);
  } catch (err) {
    if (err instanceof Error) err.message += diag();
    throw err;
  } finally {
    await unload();
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}
