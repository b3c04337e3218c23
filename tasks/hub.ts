// Hugging Face model names (org/name) as local folders, through the hub cache Python's huggingface_hub writes
// and transformers and sentence-transformers share: <cache>/models--org--name/ with refs/<revision> (the commit
// of a branch or tag), snapshots/<commit>/<path> (symlinks into blobs/, or plain files), blobs/<etag> and
// .no_exist/<commit>/<path> (files known to be absent). A cached model is read as it is, with no request; what
// the model needs and the cache lacks is downloaded into it with @huggingface/hub.
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { ListFileEntry } from '@huggingface/hub';
import { writeFileAtomic } from '../reference/files.ts';
import { ModelInputError } from './errors.ts';

/** One file's download: bytes written so far and its size. */
export interface DownloadProgress {
  repo: string;
  revision: string;
  file: string;
  loaded: number;
  total: number;
}

export interface HubOptions {
  /** a branch, tag or commit hash of the hub repository (default main); hub names only */
  revision?: string;
  /** called as files download (nothing is printed) */
  onDownload?: (progress: DownloadProgress) => void;
}

/** The hub could not give what the model needs: the message names the repository, revision and file. */
export class HubError extends Error {
  override name = 'HubError';
}

const DEFAULT_ENDPOINT = 'https://huggingface.co';
const COMMIT_HASH = /^[0-9a-f]{40}$/;
// What modernbert-ts reads of a folder (reference/files.ts, tasks/sentence-transformers.ts): always these...
const REQUIRED = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
// ...and these when the repository has them (sentence-transformers models).
const OPTIONAL = ['modules.json', 'config_sentence_transformers.json'];
// The files of a modules.json module folder that tasks/sentence-transformers.ts reads, by module type.
const MODULE_FILES: Record<string, string[]> = { Pooling: ['config.json'], Dense: ['config.json', 'model.safetensors'] };

/**
 * The local folder of a model: `nameOrPath` itself when it exists (a local path always wins) or cannot be a
 * model name (./dir, /dir), else the snapshot of the Hugging Face model `org/name` at `revision` in the hub
 * cache, completed from the hub when files are missing (HF_ENDPOINT, HF_TOKEN; none with HF_HUB_OFFLINE=1).
 */
export async function resolveModelFolder(nameOrPath: string, options: HubOptions = {}): Promise<string> {
  if (existsSync(nameOrPath) || !isRepoName(nameOrPath)) {
    if (options.revision !== undefined) throw new ModelInputError(`${nameOrPath} is a local path: a revision applies to Hugging Face model names (org/name) only`);
    // One message for a missing folder, wherever a model is read.
    if (!existsSync(nameOrPath)) throw new ModelInputError(`${nameOrPath}: no such model folder (a folder with config.json, model.safetensors and tokenizer.json, or a Hugging Face name org/name)`);
    return nameOrPath;
  }
  const revision = options.revision ?? 'main';
  if (revision === '' || revision.split('/').some((part) => part === '' || part === '.' || part === '..')) throw new ModelInputError(`revision "${revision}" is not a branch, tag or commit name`);
  return new HubRepo(nameOrPath, revision, options.onDownload).snapshotFolder();
}

/** org/name as the hub spells them (huggingface_hub's validate_repo_id), not a path; a bare name is a local folder. */
function isRepoName(name: string): boolean {
  return /^[\w.-]+\/[\w.-]+$/.test(name) && !/--|\.\.|^[.-]|[.-]$|[.-]\/|\/[.-]/.test(name) && name.length <= 96;
}

/** huggingface_hub's cache folder: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
function hubCacheFolder(): string {
  const home = (path: string) => path.replace(/^~(?=$|\/)/, homedir());
  const env = process.env;
  const hfHome = env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
  return home(env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || join(home(hfHome), 'hub'));
}

/** What a snapshot lacks: files the model needs, and optional files not known to be there or absent. */
interface SnapshotCheck {
  missing: string[];
  unknown: string[];
}

class HubRepo {
  private readonly folder: string;
  private readonly endpoint: string;
  private readonly offline: boolean;
  private readonly where: string;

  constructor(
    private readonly repo: string,
    private readonly revision: string,
    private readonly onDownload: HubOptions['onDownload'],
  ) {
    this.folder = join(hubCacheFolder(), `models--${repo.replaceAll('/', '--')}`);
    this.endpoint = (process.env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
    this.offline = ['1', 'ON', 'YES', 'TRUE'].includes((process.env.HF_HUB_OFFLINE ?? '').toUpperCase());
    this.where = `${repo}@${revision}`;
  }

  async snapshotFolder(): Promise<string> {
    const cachedCommit = COMMIT_HASH.test(this.revision) ? this.revision : this.readRef();
    const cached = cachedCommit ? this.check(cachedCommit) : null;
    if (cachedCommit && cached!.missing.length === 0 && (cached!.unknown.length === 0 || this.offline)) return this.snapshot(cachedCommit);
    if (this.offline) {
      const missing = cached?.missing.join(', ') ?? `${REQUIRED.join(', ')}, model.safetensors (no snapshot of this revision is cached)`;
      throw new HubError(`${this.where}: offline mode is on (HF_HUB_OFFLINE=1) and the cache ${this.folder} lacks ${missing}; unset HF_HUB_OFFLINE to download`);
    }
    if (cachedCommit && cached!.missing.length === 0) {
      // Complete but for optional files the cache cannot tell about (Python wrote it without looking for them):
      // one listing settles it, and the model still loads as cached if the hub cannot be asked.
      const listing = await this.listFiles(cachedCommit).catch(() => null);
      if (listing) await this.complete(cachedCommit, listing);
      return this.snapshot(cachedCommit);
    }
    const commit = COMMIT_HASH.test(this.revision) ? this.revision : await this.resolveCommit();
    await this.complete(commit, await this.listFiles(commit));
    if (commit !== this.revision) {
      const ref = join(this.folder, 'refs', this.revision);
      await mkdir(dirname(ref), { recursive: true });
      writeFileAtomic(ref, commit);
    }
    return this.snapshot(commit);
  }

  private snapshot(commit: string): string {
    return join(this.folder, 'snapshots', commit);
  }

  private readRef(): string | null {
    try {
      const commit = readFileSync(join(this.folder, 'refs', this.revision), 'utf8').trim();
      return COMMIT_HASH.test(commit) ? commit : null;
    } catch {
      return null;
    }
  }

  /** What the snapshot of `commit` lacks, following its modules.json and model.safetensors.index.json. */
  private check(commit: string): SnapshotCheck {
    const dir = this.snapshot(commit);
    const has = (path: string) => existsSync(join(dir, path));
    const missing = REQUIRED.filter((f) => !has(f));
    if (!has('model.safetensors')) {
      if (has('model.safetensors.index.json')) missing.push(...shardsOf(join(dir, 'model.safetensors.index.json')).filter((f) => !has(f)));
      else missing.push('model.safetensors');
    }
    if (has('modules.json')) missing.push(...moduleFilesOf(join(dir, 'modules.json')).filter((f) => !has(f)));
    const unknown = OPTIONAL.filter((f) => !has(f) && !existsSync(join(this.folder, '.no_exist', commit, f)));
    return { missing, unknown };
  }

  /** Downloads what the snapshot of `commit` lacks, by the repository's file listing; absent optional files are marked so. */
  private async complete(commit: string, listing: Map<string, ListFileEntry>): Promise<void> {
    // Each round fetches at least one file or ends: modules.json and the shard index name further files.
    for (;;) {
      const { missing, unknown } = this.check(commit);
      for (const f of unknown.filter((f) => !listing.has(f))) {
        await mkdir(join(this.folder, '.no_exist', commit), { recursive: true });
        await writeFile(join(this.folder, '.no_exist', commit, f), '');
      }
      const wanted = [...missing, ...unknown.filter((f) => listing.has(f))].map((f) => (f === 'model.safetensors' && !listing.has(f) && listing.has('model.safetensors.index.json') ? 'model.safetensors.index.json' : f));
      if (wanted.length === 0) return;
      const absent = wanted.filter((f) => !listing.has(f));
      if (absent.length) {
        const weights = absent.includes('model.safetensors') ? ' (modernbert-ts reads safetensors weights: model.safetensors or model.safetensors.index.json)' : '';
        throw new HubError(`${this.where}: the repository has no ${absent.join(', ')}${weights}`);
      }
      for (const f of wanted) await this.download(commit, listing.get(f)!);
    }
  }

  private async resolveCommit(): Promise<string> {
    const { modelInfo } = await import('@huggingface/hub');
    const info = await this.ask('the revision', () => modelInfo({ name: this.repo, revision: this.revision, additionalFields: ['sha'], hubUrl: this.endpoint, accessToken: this.token() }));
    if (typeof info.sha !== 'string' || !COMMIT_HASH.test(info.sha)) throw new HubError(`${this.where}: the hub at ${this.host()} gave no commit hash for the revision`);
    return info.sha;
  }

  private async listFiles(commit: string): Promise<Map<string, ListFileEntry>> {
    const { listFiles } = await import('@huggingface/hub');
    const files = new Map<string, ListFileEntry>();
    await this.ask('the file listing', async () => {
      for await (const entry of listFiles({ repo: { type: 'model', name: this.repo }, revision: commit, recursive: true, hubUrl: this.endpoint, accessToken: this.token() })) {
        if (entry.type === 'file') files.set(entry.path, entry);
      }
    });
    return files;
  }

  /**
   * One file into blobs/<etag> (the name Python gives it: the sha256 of an LFS file, else the git object id),
   * through a temporary file renamed when complete, then linked from the snapshot: a cut-off download leaves
   * nothing in the snapshot, and the next call downloads it again.
   */
  private async download(commit: string, entry: ListFileEntry): Promise<void> {
    const file = entry.path;
    if (file.split('/').some((part) => part === '..' || part === '') || file.includes('\\')) throw new HubError(`${this.where}: refusing the file name "${file}" (it leaves the snapshot folder)`);
    const etag = entry.lfs?.oid ?? entry.xetHash ?? entry.oid;
    if (!etag) throw new HubError(`${this.where}: the listing gives no object id for ${file}`);
    const total = entry.lfs?.size ?? entry.size;
    const blobPath = join(this.folder, 'blobs', etag);
    if (!existsSync(blobPath)) {
      const { downloadFile } = await import('@huggingface/hub');
      const blob = await this.ask(file, () => downloadFile({ repo: { type: 'model', name: this.repo }, path: file, revision: commit, hubUrl: this.endpoint, accessToken: this.token() }));
      if (!blob) throw new HubError(`${this.where}: ${file} not found at ${this.host()} (HTTP 404), though the repository lists it`);
      await mkdir(dirname(blobPath), { recursive: true });
      const partial = `${blobPath}.${process.pid}-${randomBytes(4).toString('hex')}.incomplete`;
      let loaded = 0;
      const report = () => this.onDownload?.({ repo: this.repo, revision: this.revision, file, loaded, total });
      const count = new Transform({
        transform(chunk: Buffer, _, done) {
          loaded += chunk.length;
          report();
          done(null, chunk);
        },
      });
      try {
        report();
        await pipeline(Readable.fromWeb(blob.stream() as NodeReadableStream), count, createWriteStream(partial));
        if (loaded !== total) throw new Error(`the hub sent ${loaded} bytes, the listing says ${total}`);
        await rename(partial, blobPath);
      } catch (e) {
        await rm(partial, { force: true });
        throw new HubError(`${this.where}: downloading ${file} from ${this.host()} stopped after ${loaded} of ${total} bytes (${reason(e)}); nothing of it was put in the cache: run again to download it`);
      }
    }
    const pointer = join(this.snapshot(commit), file);
    await mkdir(dirname(pointer), { recursive: true });
    // A symlink made under a temporary name and renamed over the pointer: it appears whole or not at all.
    const link = `${pointer}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      await symlink(relative(dirname(pointer), blobPath), link);
    } catch {
      await copyFile(blobPath, link); // no symlinks here (Windows without developer mode): a copy, as huggingface_hub makes
    }
    await rename(link, pointer);
  }

  private token(): string | undefined {
    const token = process.env.HF_TOKEN || undefined;
    // @huggingface/hub refuses other tokens with a message that does not say where this one came from.
    if (token && !token.startsWith('hf_')) throw new HubError(`HF_TOKEN must be a Hugging Face access token (one starting with hf_)`);
    return token;
  }

  private host(): string {
    return new URL(this.endpoint).host;
  }

  /** Runs one hub request, its failure explained: the repository, revision and file, and what to do. */
  private async ask<T>(what: string, request: () => Promise<T>): Promise<T> {
    let endpoint: URL;
    try {
      endpoint = new URL(this.endpoint);
    } catch {
      throw new HubError(`HF_ENDPOINT must be a URL such as ${DEFAULT_ENDPOINT}, got "${this.endpoint}"`);
    }
    try {
      return await request();
    } catch (e) {
      if (e instanceof HubError) throw e;
      const status = (e as { statusCode?: unknown }).statusCode;
      const notLocal = `${this.repo} is not a local folder either`;
      if (typeof status !== 'number') {
        // fetch's own failure (connection refused, DNS, TLS, reset) is a TypeError over the network error.
        if (!(e instanceof TypeError && e.cause)) throw new HubError(`${this.where}: the hub at ${endpoint.host} gave an answer @huggingface/hub cannot use for ${what} (${reason(e)})`);
        const mirror = process.env.HF_ENDPOINT ? `HF_ENDPOINT is ${this.endpoint}` : `set HF_ENDPOINT to use a mirror`;
        throw new HubError(`${this.where}: cannot reach the hub at ${endpoint.host} for ${what} (${reason(e)}): check the connection (${mirror}), or set HF_HUB_OFFLINE=1 to use only the cache`);
      }
      const said = hubMessage(e);
      if (status === 401 || status === 403) {
        // The hub answers 401 for a repository that does not exist too, so as not to tell private ones apart.
        const refused = process.env.HF_TOKEN ? ' (the HF_TOKEN set was refused)' : '';
        throw new HubError(`${this.where}: the hub at ${endpoint.host} refused access to ${what} (HTTP ${status}${said}): set HF_TOKEN to a token with access to ${this.repo}${refused}, or check the name (${notLocal})`);
      }
      if (status === 404) {
        const wholeRepo = what === 'the revision' || what === 'the file listing';
        const subject = wholeRepo ? `repository ${this.repo} or its revision ${this.revision}` : `${what} of ${this.where}`;
        throw new HubError(`${this.where}: ${subject} not found at ${endpoint.host} (HTTP 404${said})${wholeRepo ? `; ${notLocal}` : ''}`);
      }
      throw new HubError(`${this.where}: the hub at ${endpoint.host} answered HTTP ${status} for ${what}${said}`);
    }
  }
}

/** The shard files of a model.safetensors.index.json ([] when unreadable: reading the weights reports it). */
function shardsOf(indexFile: string): string[] {
  const weightMap = (readJsonOrNull(indexFile) as { weight_map?: unknown } | null)?.weight_map;
  return weightMap && typeof weightMap === 'object' ? [...new Set(Object.values(weightMap).filter((f): f is string => typeof f === 'string'))] : [];
}

/** The module files of a modules.json that the sentence-transformers reader opens. */
function moduleFilesOf(modulesFile: string): string[] {
  const modules: unknown = readJsonOrNull(modulesFile);
  if (!Array.isArray(modules)) return [];
  return modules.flatMap((m: { type?: unknown; path?: unknown } | null) => {
    const kind = typeof m?.type === 'string' ? m.type.split('.').at(-1)! : '';
    const folder = typeof m?.path === 'string' ? m.path : '';
    return folder ? (MODULE_FILES[kind] ?? []).map((f) => `${folder}/${f}`) : [];
  });
}

function readJsonOrNull(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** A failure's own words: the network cause under fetch's "fetch failed", or the message. */
function reason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause as { code?: string; message?: string } | undefined;
  return cause?.message || cause?.code || e.message;
}

/** The hub's explanation from an error's JSON body, if short, as ": text". */
function hubMessage(e: unknown): string {
  const data = (e as { data?: { error?: unknown; message?: unknown } }).data;
  const text = typeof data?.error === 'string' ? data.error : typeof data?.message === 'string' ? data.message : '';
  return text && text.length <= 200 ? `: ${text.trim()}` : '';
}
