/** The "DevMemory" explorer view: "This File" (devmem.memoriesForFile) and "Recent" (devmem.recent). */
import * as vscode from 'vscode';
import { buildMemoriesForFileArgs, buildRecentArgs } from './commands';
import { toTreeItem } from './format';
import type { MemorySummary } from './protocol';
import { errorText, type DevMemoryServer } from './client';

export type Node =
  | { type: 'section'; section: 'file' | 'recent' }
  | { type: 'memory'; memory: MemorySummary; parent: 'file' | 'recent' }
  | { type: 'message'; text: string; icon?: string };

const REFRESH_DELAY_MS = 200;

export class MemoryTreeProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The file "This File" is about: the last active file editor (output panes etc. don't count). */
  private fileUri: vscode.Uri | undefined;

  constructor(private readonly server: DevMemoryServer) {
    this.fileUri = memoryTarget(vscode.window.activeTextEditor);
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        const next = editor ? memoryTarget(editor) ?? this.fileUri : undefined;
        if (next?.toString() !== this.fileUri?.toString()) {
          this.fileUri = next;
          this.refresh();
        }
      }),
      server.onDidChangeMemories(() => this.refresh()),
      server.onDidChangeRunning(() => this.refresh()),
    );
  }

  /** Debounced full refresh (editor switches and change notifications come in bursts). */
  refresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.emitter.fire(undefined);
    }, REFRESH_DELAY_MS);
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.type) {
      case 'section': {
        const item = new vscode.TreeItem(
          node.section === 'file' ? 'This File' : 'Recent',
          vscode.TreeItemCollapsibleState.Expanded,
        );
        item.id = `section:${node.section}`;
        item.contextValue = 'section';
        if (node.section === 'file' && this.fileUri) item.description = basename(this.fileUri);
        return item;
      }
      case 'memory': {
        const data = toTreeItem(node.memory, displayPath);
        const item = new vscode.TreeItem(data.label, vscode.TreeItemCollapsibleState.None);
        item.id = `${node.parent}:${data.id}`;
        item.description = data.description;
        item.tooltip = new vscode.MarkdownString(data.tooltip);
        item.iconPath = new vscode.ThemeIcon(data.icon);
        item.contextValue = 'memory';
        item.command = { command: 'devmemory.openMemory', title: 'Open Memory', arguments: [data.id] };
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon);
        item.contextValue = 'message';
        return item;
      }
    }
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) return [{ type: 'section', section: 'file' }, { type: 'section', section: 'recent' }];
    if (node.type !== 'section') return [];
    if (!this.server.running) return [{ type: 'message', text: 'Server not running', icon: 'debug-disconnect' }];
    try {
      if (node.section === 'file') {
        const uri = this.fileUri;
        if (!uri) return [{ type: 'message', text: 'Open a file to see its memories' }];
        const { hits } = await this.server.execute('devmem.memoriesForFile', buildMemoriesForFileArgs(uri.toString()));
        return hits.length > 0
          ? hits.map((memory) => ({ type: 'memory', memory, parent: 'file' }))
          : [{ type: 'message', text: 'No memories for this file' }];
      }
      const { hits } = await this.server.execute('devmem.recent', buildRecentArgs());
      return hits.length > 0
        ? hits.map((memory) => ({ type: 'memory', memory, parent: 'recent' }))
        : [{ type: 'message', text: 'No memories yet' }];
    } catch (err) {
      return [{ type: 'message', text: errorText(err), icon: 'error' }];
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.emitter.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** The document URI memories can be anchored to (files on disk and untitled buffers). */
export function memoryTarget(editor: vscode.TextEditor | undefined): vscode.Uri | undefined {
  const uri = editor?.document.uri;
  return uri && (uri.scheme === 'file' || uri.scheme === 'untitled') ? uri : undefined;
}

/** Workspace-relative when the path is inside the workspace, else as the server gave it. */
export function displayPath(p: string): string {
  return vscode.workspace.asRelativePath(p, false);
}

function basename(uri: vscode.Uri): string {
  return uri.path.slice(uri.path.lastIndexOf('/') + 1);
}
