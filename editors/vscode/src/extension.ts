/** Entry point: wires the server, the memory documents, the explorer view and the commands. */
import * as vscode from 'vscode';
import { DevMemoryServer } from './client';
import { MemoryDocumentProvider, openMemory } from './docs';
import { MEMORY_SCHEME } from './format';
import { needsRestart, SECTION } from './settings';
import { MemoryTreeProvider } from './tree';
import { forgetMemory, openMemoryCommand, rememberSelection, searchMemories, showFileMemories, showHits } from './ui';

let server: DevMemoryServer | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('DevMemory');
  const srv = new DevMemoryServer(output, { openMemory, showHits });
  server = srv;
  const docs = new MemoryDocumentProvider(srv);
  const tree = new MemoryTreeProvider(srv);

  context.subscriptions.push(
    output,
    srv,
    docs,
    tree,
    vscode.workspace.registerTextDocumentContentProvider(MEMORY_SCHEME, docs),
    vscode.window.registerTreeDataProvider('devmemory.memories', tree),
    vscode.commands.registerCommand('devmemory.rememberSelection', () => rememberSelection(srv)),
    vscode.commands.registerCommand('devmemory.search', () => searchMemories(srv)),
    vscode.commands.registerCommand('devmemory.showFileMemories', () => showFileMemories(srv)),
    vscode.commands.registerCommand('devmemory.forget', (arg?: unknown) => forgetMemory(srv, arg)),
    vscode.commands.registerCommand('devmemory.openMemory', (arg?: unknown) => openMemoryCommand(srv, arg)),
    vscode.commands.registerCommand('devmemory.restartServer', () => srv.restart()),
    vscode.commands.registerCommand('devmemory.refreshView', () => tree.refresh()),
    vscode.commands.registerCommand('devmemory.showLog', () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SECTION) && needsRestart((s) => e.affectsConfiguration(s))) {
        output.appendLine('[client] server settings changed; restarting');
        void srv.restart();
      }
    }),
  );

  await srv.start();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
