// Hugging Face model names through the hub cache (tasks/hub.ts), against a real HTTP server on 127.0.0.1 that
// answers the requests @huggingface/hub makes as the hub does: /api/models/{repo}/revision/{rev} (the commit),
// /api/models/{repo}/tree/{rev} (the listing), /{repo}/resolve/{rev}/{path} (GET with Range: bytes=0-0 as a
// probe, then the whole file; LFS files redirect to /cdn/{sha256}, with X-Linked-Etag and X-Linked-Size). The
// cache is a temporary HF_HUB_CACHE; every model loaded must embed as the local folder it was served from.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../reference/files.ts';
import { writeExampleCheckpoint } from '../tasks/example.ts';
import { type DownloadProgress, HubError, loadModel } from '../tasks/index.ts';
import { fixtureWithTokenizer } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
const TEXTS = ['hello world', 'The capital of France is Paris.'];
const COMMIT_A = 'a'.repeat(40);
const COMMIT_B = 'b'.repeat(40);
const HUB_ENV = ['HF_ENDPOINT', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME', 'HF_TOKEN', 'HF_HUB_OFFLINE'];

/** The ids the hub gives a file: a git blob id (ETag) for small files, the sha256 (X-Linked-Etag) for LFS ones. */
const gitOid = (data: Buffer) => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const isLfs = (path: string) => path.endsWith('.safetensors');
const etagOf = (path: string, data: Buffer) => (isLfs(path) ? sha256(data) : gitOid(data));

type Files = Map<string, Buffer>;
interface Repo {
  refs: Record<string, string>;
  commits: Record<string, Files>;
  /** a private repository: the token it takes */
  token?: string;
}

/** A folder's files by their path in it. */
function filesOf(dir: string, prefix = ''): Files {
  const files: Files = new Map();
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) for (const [p, d] of filesOf(join(dir, e.name), `${prefix}${e.name}/`)) files.set(p, d);
    else files.set(prefix + e.name, readFileSync(join(dir, e.name)));
  }
  return files;
}

/** The hub's API and file server, for the requests @huggingface/hub makes; every request is recorded. */
class FakeHub {
  readonly repos = new Map<string, Repo>();
  readonly requests: { method: string; url: string; authorization?: string }[] = [];
  /** files whose next whole-file download is cut off halfway (the socket closed after a full Content-Length) */
  readonly cutOff = new Set<string>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.answer(req, res));
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((done) => this.server.close(done));
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    const url = new URL(req.url!, this.url);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) return this.serveBlob(req, res, this.blobBySha(cdn[1]), {});
    const name = decodeURIComponent((api ?? resolve)?.[1] ?? '');
    const repo = this.repos.get(name);
    if (!repo) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      return json(res, req.headers.authorization ? 403 : 401, { error: `Access to model ${name} is restricted. You must have access to it and be authenticated to access it.` }, { 'X-Error-Code': 'GatedRepo' });
    }
    const rev = decodeURIComponent((api ?? resolve)![api ? 3 : 2]);
    const commit = repo.refs[rev] ?? (repo.commits[rev] ? rev : undefined);
    if (!commit) return json(res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' });
    const files = repo.commits[commit];
    if (api?.[2] === 'revision') return json(res, 200, { _id: '0', id: name, sha: commit, private: !!repo.token, downloads: 0, likes: 0, lastModified: '2025-01-01T00:00:00.000Z' });
    if (api?.[2] === 'tree') {
      const folders = new Set([...files.keys()].flatMap((p) => p.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
      return json(res, 200, [
        ...[...folders].map((path) => ({ type: 'directory', path, oid: gitOid(Buffer.from(path)), size: 0 })),
        ...[...files].map(([path, data]) => ({ type: 'file', path, size: data.length, oid: gitOid(data), ...(isLfs(path) && { lfs: { oid: sha256(data), size: data.length, pointerSize: 134 } }) })),
      ]);
    }
    const path = decodeURIComponent(resolve![3]);
    const data = files.get(path);
    if (!data) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': commit });
    if (isLfs(path)) {
      // As the hub: the file is elsewhere; its id and size come with the redirect.
      res.writeHead(302, { Location: `/cdn/${sha256(data)}`, 'X-Linked-Etag': `"${sha256(data)}"`, 'X-Linked-Size': String(data.length), 'X-Repo-Commit': commit, ETag: `"${gitOid(Buffer.from('pointer'))}"` });
      return void res.end();
    }
    this.serveBlob(req, res, { path, data }, { 'X-Repo-Commit': commit });
  }

  private blobBySha(sha: string): { path: string; data: Buffer } | undefined {
    for (const repo of this.repos.values()) for (const files of Object.values(repo.commits)) for (const [path, data] of files) if (isLfs(path) && sha256(data) === sha) return { path, data };
  }

  private serveBlob(req: IncomingMessage, res: ServerResponse, blob: { path: string; data: Buffer } | undefined, headers: Record<string, string>): void {
    if (!blob) return json(res, 404, { error: 'not found' });
    const { path, data } = blob;
    const common = { ...headers, ETag: `"${etagOf(path, data)}"`, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range) {
      const [start, end] = [Number(range[1]), Math.min(Number(range[2]), data.length - 1)];
      res.writeHead(206, { ...common, 'Content-Range': `bytes ${start}-${end}/${data.length}`, 'Content-Length': String(end - start + 1) });
      return void res.end(req.method === 'HEAD' ? undefined : data.subarray(start, end + 1));
    }
    res.writeHead(200, { ...common, 'Content-Length': String(data.length) });
    if (req.method === 'HEAD') return void res.end();
    if (this.cutOff.delete(path)) return void res.write(data.subarray(0, data.length >> 1), () => res.destroy());
    res.end(data);
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

const hub = new FakeHub();
const work = mkdtempSync(join(tmpdir(), 'modernbert-hub-'));
const local = { a: join(work, 'checkpoint-a'), b: join(work, 'checkpoint-b') };
const expected: Record<'a' | 'b', Float32Array[]> = { a: [], b: [] };
let cache = '';

async function embeddings(source: string, options: Parameters<typeof loadModel>[1] = {}): Promise<Float32Array[]> {
  const model = await loadModel(source, { backend: 'reference', ...options });
  try {
    return await model.embed(TEXTS);
  } finally {
    model.dispose();
  }
}

/** The URL of a port on 127.0.0.1 where nothing listens. */
async function closedEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return `http://127.0.0.1:${port}`;
}

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

/** Every path under a folder, relative to it (symlinks not followed). */
function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

const repoFolder = (name = 'org/tiny') => join(cache, `models--${name.replace('/', '--')}`);

beforeAll(async () => {
  writeExampleCheckpoint(local.a, 0);
  writeExampleCheckpoint(local.b, 1);
  expected.a = await embeddings(local.a);
  expected.b = await embeddings(local.b);
  expect(expected.a[0]).not.toEqual(expected.b[0]); // the two commits are told apart
  await hub.start();
});

afterAll(async () => {
  await hub.stop();
  rmSync(work, { recursive: true, force: true });
});

const savedEnv: Record<string, string | undefined> = {};
beforeEach(() => {
  for (const k of HUB_ENV) savedEnv[k] = process.env[k];
  for (const k of HUB_ENV) delete process.env[k];
  // Never the real ~/.cache: a fresh cache, and HF_HOME under the test folder too.
  cache = mkdtempSync(join(work, 'cache-'));
  process.env.HF_HUB_CACHE = cache;
  process.env.HF_HOME = join(cache, 'hf-home');
  process.env.HF_ENDPOINT = hub.url;
  hub.repos.clear();
  hub.repos.set('org/tiny', { refs: { main: COMMIT_A, v2: COMMIT_B }, commits: { [COMMIT_A]: filesOf(local.a), [COMMIT_B]: filesOf(local.b) } });
  hub.requests.length = 0;
  hub.cutOff.clear();
});

afterEach(() => {
  for (const k of HUB_ENV) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

describe('Hugging Face model names through the hub cache', () => {
  it('downloads into the cache in Python layout, then loads from it with no request at all', async () => {
    const progress: DownloadProgress[] = [];
    expect(await embeddings('org/tiny', { onDownload: (p) => progress.push({ ...p }) })).toEqual(expected.a);
    const paths = hub.requests.map((r) => `${r.method} ${new URL(r.url, hub.url).pathname}`);
    expect(paths).toContain('GET /api/models/org/tiny/revision/main');
    expect(paths).toContain(`GET /api/models/org/tiny/tree/${COMMIT_A}`);
    expect(paths).toContain(`GET /org/tiny/resolve/${COMMIT_A}/config.json`);
    expect(paths).toContain(`GET /cdn/${sha256(readFileSync(join(local.a, 'model.safetensors')))}`);

    // refs/main names the commit; the snapshot's files are relative symlinks into blobs/<etag>.
    const folder = repoFolder();
    expect(readFileSync(join(folder, 'refs', 'main'), 'utf8')).toBe(COMMIT_A);
    const snapshot = join(folder, 'snapshots', COMMIT_A);
    expect(listTree(snapshot)).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    for (const [file, data] of filesOf(local.a)) {
      expect(lstatSync(join(snapshot, file)).isSymbolicLink(), file).toBe(true);
      expect(readlinkSync(join(snapshot, file))).toBe(`../../blobs/${etagOf(file, data)}`);
      expect(readFileSync(join(snapshot, file)).equals(data), file).toBe(true);
    }
    // The sentence-transformers files the repository does not have are marked absent, as Python marks them.
    expect(listTree(join(folder, '.no_exist', COMMIT_A))).toEqual(['config_sentence_transformers.json', 'modules.json']);
    expect(listTree(join(folder, 'blobs')).every((f) => !f.includes('incomplete'))).toBe(true);

    // Progress: each file from 0 to its size, and nothing else.
    const sizes = new Map([...filesOf(local.a)].map(([f, d]) => [f, d.length]));
    expect(new Set(progress.map((p) => p.file))).toEqual(new Set(sizes.keys()));
    for (const [file, size] of sizes) {
      const events = progress.filter((p) => p.file === file);
      expect(events[0]).toEqual({ repo: 'org/tiny', revision: 'main', file, loaded: 0, total: size });
      expect(events.at(-1)).toEqual({ repo: 'org/tiny', revision: 'main', file, loaded: size, total: size });
    }

    hub.requests.length = 0;
    const again: DownloadProgress[] = [];
    expect(await embeddings('org/tiny', { onDownload: (p) => again.push(p) })).toEqual(expected.a);
    expect(hub.requests).toEqual([]);
    expect(again).toEqual([]);
  });

  it("reads a cache written in Python's layout as it is, with no request", async () => {
    const folder = repoFolder();
    mkdirSync(join(folder, 'refs'), { recursive: true });
    writeFileSync(join(folder, 'refs', 'main'), COMMIT_A);
    const snapshot = join(folder, 'snapshots', COMMIT_A);
    mkdirSync(snapshot, { recursive: true });
    mkdirSync(join(folder, 'blobs'));
    for (const [file, data] of filesOf(local.a)) {
      if (file === 'tokenizer_config.json') {
        copyFileSync(join(local.a, file), join(snapshot, file)); // huggingface_hub without symlinks: a plain file
        continue;
      }
      writeFileSync(join(folder, 'blobs', etagOf(file, data)), data);
      symlinkSync(`../../blobs/${etagOf(file, data)}`, join(snapshot, file));
    }
    mkdirSync(join(folder, '.no_exist', COMMIT_A), { recursive: true });
    for (const f of ['modules.json', 'config_sentence_transformers.json']) writeFileSync(join(folder, '.no_exist', COMMIT_A, f), '');
    expect(await embeddings('org/tiny')).toEqual(expected.a);
    expect(hub.requests).toEqual([]);
  });

  it('asks about optional files a Python cache does not mark, once: one listing request, then none', async () => {
    const folder = repoFolder();
    const snapshot = join(folder, 'snapshots', COMMIT_A);
    mkdirSync(snapshot, { recursive: true });
    mkdirSync(join(folder, 'refs'));
    writeFileSync(join(folder, 'refs', 'main'), COMMIT_A);
    for (const file of filesOf(local.a).keys()) copyFileSync(join(local.a, file), join(snapshot, file));
    expect(await embeddings('org/tiny')).toEqual(expected.a);
    expect(hub.requests.map((r) => new URL(r.url, hub.url).pathname)).toEqual([`/api/models/org/tiny/tree/${COMMIT_A}`]);
    expect(listTree(join(folder, '.no_exist', COMMIT_A))).toEqual(['config_sentence_transformers.json', 'modules.json']);
    hub.requests.length = 0;
    expect(await embeddings('org/tiny')).toEqual(expected.a);
    expect(hub.requests).toEqual([]);
    // With the hub unreachable, a snapshot with everything required loads as it is.
    rmSync(join(folder, '.no_exist'), { recursive: true });
    process.env.HF_ENDPOINT = await closedEndpoint();
    expect(await embeddings('org/tiny')).toEqual(expected.a);
  });

  it('loads a revision by branch name and by commit hash, each into its own snapshot', async () => {
    expect(await embeddings('org/tiny', { revision: 'v2' })).toEqual(expected.b);
    expect(readFileSync(join(repoFolder(), 'refs', 'v2'), 'utf8')).toBe(COMMIT_B);
    expect(existsSync(join(repoFolder(), 'refs', 'main'))).toBe(false);

    // A commit hash is the snapshot folder's name: no revision lookup, and no ref written.
    hub.requests.length = 0;
    expect(await embeddings('org/tiny', { revision: COMMIT_A })).toEqual(expected.a);
    expect(hub.requests.some((r) => r.url.includes('/revision/'))).toBe(false);
    expect(hub.requests.some((r) => r.url.includes(`/tree/${COMMIT_A}`))).toBe(true);
    expect(readdirSync(join(repoFolder(), 'refs'))).toEqual(['v2']);
    expect(readdirSync(join(repoFolder(), 'snapshots')).sort()).toEqual([COMMIT_A, COMMIT_B]);

    hub.requests.length = 0;
    expect(await embeddings('org/tiny', { revision: COMMIT_A })).toEqual(expected.a);
    expect(await embeddings('org/tiny', { revision: 'v2' })).toEqual(expected.b);
    expect(hub.requests).toEqual([]);

    const e = await failure(embeddings('org/tiny', { revision: 'nope' }));
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).toMatch(/^org\/tiny@nope: repository org\/tiny or its revision nope not found at 127\.0\.0\.1:\d+ \(HTTP 404: Invalid rev id: nope\)/);
  });

  it('fetches a sharded sentence-transformers model: the shards and module files it reads, and nothing else', async () => {
    const stFolder = fixtureWithTokenizer('sentence-transformers/embed');
    const served = filesOf(stFolder);
    // The weights as two shards and their index, as transformers writes large checkpoints.
    const tensors = [...readSafetensors(join(stFolder, 'model.safetensors')).tensors];
    const shards = [tensors.slice(0, tensors.length >> 1), tensors.slice(tensors.length >> 1)];
    const weightMap: Record<string, string> = {};
    shards.forEach((part, i) => {
      const name = `model-0000${i + 1}-of-00002.safetensors`;
      const file = join(work, name);
      writeSafetensors(file, new Map(part));
      served.set(name, readFileSync(file));
      for (const [tensor] of part) weightMap[tensor] = name;
    });
    served.delete('model.safetensors');
    served.set('model.safetensors.index.json', Buffer.from(JSON.stringify({ metadata: {}, weight_map: weightMap })));
    for (const extra of ['README.md', 'pytorch_model.bin', 'onnx/model.onnx']) served.set(extra, Buffer.from('not read by modernbert-ts'));
    hub.repos.set('org/st', { refs: { main: COMMIT_A }, commits: { [COMMIT_A]: served } });

    const stExpected = await embeddings(stFolder);
    const progress = new Set<string>();
    expect(await embeddings('org/st', { onDownload: (p) => progress.add(p.file) })).toEqual(stExpected);
    const wanted = ['1_Pooling/config.json', '2_Dense/config.json', '2_Dense/model.safetensors', 'config.json', 'config_sentence_transformers.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'modules.json', 'tokenizer.json', 'tokenizer_config.json'];
    expect([...progress].sort()).toEqual(wanted);
    expect(listTree(join(repoFolder('org/st'), 'snapshots', COMMIT_A))).toEqual(['1_Pooling', '2_Dense', ...wanted].sort());
    expect(existsSync(join(repoFolder('org/st'), '.no_exist'))).toBe(false);

    hub.requests.length = 0;
    expect(await embeddings('org/st')).toEqual(stExpected);
    expect(hub.requests).toEqual([]);
  });

  it('a local folder wins over a model name', async () => {
    const cwd = process.cwd();
    const dir = mkdtempSync(join(work, 'cwd-'));
    writeExampleCheckpoint(join(dir, 'org', 'tiny'), 1); // the hub serves checkpoint a under this name
    process.chdir(dir);
    try {
      expect(await embeddings('org/tiny')).toEqual(expected.b);
      expect(hub.requests).toEqual([]);
      await expect(embeddings('org/tiny', { revision: 'v2' })).rejects.toThrow('org/tiny is a local path: a revision applies to Hugging Face model names (org/name) only');
    } finally {
      process.chdir(cwd);
    }
  });

  it('a 404 names the repository, revision and file', async () => {
    const e = await failure(embeddings('org/missing'));
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).toMatch(/^org\/missing@main: repository org\/missing or its revision main not found at 127\.0\.0\.1:\d+ \(HTTP 404: Repository not found\); org\/missing is not a local folder either$/);

    // A repository without a file the model needs: named, from the listing.
    const files = filesOf(local.a);
    files.delete('tokenizer.json');
    hub.repos.set('org/no-tokenizer', { refs: { main: COMMIT_A }, commits: { [COMMIT_A]: files } });
    expect((await failure(embeddings('org/no-tokenizer'))).message).toBe('org/no-tokenizer@main: the repository has no tokenizer.json');
    const noWeights = filesOf(local.a);
    noWeights.delete('model.safetensors');
    hub.repos.set('org/no-weights', { refs: { main: COMMIT_A }, commits: { [COMMIT_A]: noWeights } });
    expect((await failure(embeddings('org/no-weights'))).message).toBe('org/no-weights@main: the repository has no model.safetensors (modernbert-ts reads safetensors weights: model.safetensors or model.safetensors.index.json)');
    expect(existsSync(join(repoFolder('org/no-weights'), 'refs'))).toBe(false);
  });

  it('a 401 or 403 names HF_TOKEN, and HF_TOKEN goes as a Bearer token', async () => {
    hub.repos.get('org/tiny')!.token = 'hf_secret';
    const e = await failure(embeddings('org/tiny'));
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).toMatch(/^org\/tiny@main: the hub at 127\.0\.0\.1:\d+ refused access to the revision \(HTTP 401: Access to model org\/tiny is restricted\. .*\): set HF_TOKEN to a token with access to org\/tiny, or check the name \(org\/tiny is not a local folder either\)$/);
    process.env.HF_TOKEN = 'hf_wrong';
    expect((await failure(embeddings('org/tiny'))).message).toMatch(/\(HTTP 403: .*\): set HF_TOKEN to a token with access to org\/tiny \(the HF_TOKEN set was refused\), or check the name/);
    process.env.HF_TOKEN = 'not-a-token';
    expect((await failure(embeddings('org/tiny'))).message).toBe('HF_TOKEN must be a Hugging Face access token (one starting with hf_)');

    process.env.HF_TOKEN = 'hf_secret';
    hub.requests.length = 0;
    expect(await embeddings('org/tiny')).toEqual(expected.a);
    const toTheHub = hub.requests.filter((r) => !r.url.startsWith('/cdn/'));
    expect(toTheHub.length).toBeGreaterThanOrEqual(6);
    expect(toTheHub.every((r) => r.authorization === 'Bearer hf_secret')).toBe(true);
  });

  it('HF_HUB_OFFLINE=1 makes no request: a cache miss names the repository, revision and missing files', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    const e = await failure(embeddings('org/tiny'));
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).toBe(`org/tiny@main: offline mode is on (HF_HUB_OFFLINE=1) and the cache ${repoFolder()} lacks config.json, tokenizer.json, tokenizer_config.json, model.safetensors (no snapshot of this revision is cached); unset HF_HUB_OFFLINE to download`);
    expect(hub.requests).toEqual([]);

    // A snapshot short of its weights: the weights named.
    const snapshot = join(repoFolder(), 'snapshots', COMMIT_A);
    mkdirSync(snapshot, { recursive: true });
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(local.a, f), join(snapshot, f));
    const short = await failure(embeddings('org/tiny', { revision: COMMIT_A }));
    expect(short.message).toBe(`org/tiny@${COMMIT_A}: offline mode is on (HF_HUB_OFFLINE=1) and the cache ${repoFolder()} lacks model.safetensors; unset HF_HUB_OFFLINE to download`);
    expect(hub.requests).toEqual([]);

    // Complete, it loads offline (optional files unknown: taken as absent).
    copyFileSync(join(local.a, 'model.safetensors'), join(snapshot, 'model.safetensors'));
    expect(await embeddings('org/tiny', { revision: COMMIT_A })).toEqual(expected.a);
    expect(hub.requests).toEqual([]);
  });

  it('a download cut off mid-file leaves nothing in the snapshot, and the next call completes it', async () => {
    hub.cutOff.add('model.safetensors');
    const size = readFileSync(join(local.a, 'model.safetensors')).length;
    const e = await failure(embeddings('org/tiny'));
    expect(e).toBeInstanceOf(HubError);
    expect(e.message).toMatch(new RegExp(`^org/tiny@main: downloading model\\.safetensors from 127\\.0\\.0\\.1:\\d+ stopped after \\d+ of ${size} bytes \\([^)]+\\); nothing of it was put in the cache: run again to download it$`));
    const folder = repoFolder();
    expect(listTree(join(folder, 'snapshots', COMMIT_A))).not.toContain('model.safetensors');
    expect(listTree(join(folder, 'snapshots', COMMIT_A)).every((f) => !/tmp|incomplete/.test(f))).toBe(true);
    expect(listTree(join(folder, 'blobs')).every((f) => !/tmp|incomplete/.test(f))).toBe(true);
    expect(existsSync(join(folder, 'refs', 'main'))).toBe(false);

    hub.requests.length = 0;
    expect(await embeddings('org/tiny')).toEqual(expected.a);
    // Only what was missing is downloaded again.
    expect(hub.requests.filter((r) => r.url.includes('/resolve/')).map((r) => r.url.split('/').at(-1))).toEqual(['model.safetensors']);
    expect(readFileSync(join(folder, 'refs', 'main'), 'utf8')).toBe(COMMIT_A);
  });

  it('a network failure names the host of HF_ENDPOINT', async () => {
    const endpoint = await closedEndpoint();
    process.env.HF_ENDPOINT = endpoint;
    const e = await failure(embeddings('org/tiny'));
    expect(e).toBeInstanceOf(HubError);
    const host = new URL(endpoint).host;
    expect(e.message).toBe(`org/tiny@main: cannot reach the hub at ${host} for the revision (connect ECONNREFUSED ${host}): check the connection (HF_ENDPOINT is ${endpoint}), or set HF_HUB_OFFLINE=1 to use only the cache`);
    expect(listTree(cache).filter((f) => f.startsWith('models--'))).toEqual([]);
  });

  it('the CLI takes --model org/name [--revision REV] through the hub and the cache', async () => {
    const env = { ...process.env, HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_HOME: join(cache, 'hf-home') };
    // Async: the server answers from this process while the CLI runs.
    const run = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        execFile(process.execPath, [join(ROOT, 'bin', 'modernbert.js'), ...args], { env, encoding: 'utf8' }, (error, stdout, stderr) => done({ code: error ? (error.code as number) : 0, stdout, stderr }));
      });
    const first = await run('embed', '--model', 'org/tiny', '--backend', 'reference', TEXTS[0]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/downloading org\/tiny@main model\.safetensors \(\d+\.\d MB\)/);
    expect(Float32Array.from(JSON.parse(first.stdout).embedding)).toEqual(expected.a[0]);

    hub.requests.length = 0;
    const second = await run('embed', '--model', 'org/tiny', '--revision', 'v2', '--backend', 'reference', TEXTS[0]);
    expect(second.code, second.stderr).toBe(0);
    expect(Float32Array.from(JSON.parse(second.stdout).embedding)).toEqual(expected.b[0]);
    hub.requests.length = 0;
    const cached = await run('embed', '--model', 'org/tiny', '--backend', 'reference', TEXTS[0]);
    expect(cached.stderr).not.toMatch(/downloading/);
    expect(Float32Array.from(JSON.parse(cached.stdout).embedding)).toEqual(expected.a[0]);
    expect(hub.requests).toEqual([]);

    const denied = await run('embed', '--model', 'org/missing', '--backend', 'reference', 'hello');
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/^modernbert embed: org\/missing@main: repository org\/missing or its revision main not found at 127\.0\.0\.1:\d+ \(HTTP 404: Repository not found\); org\/missing is not a local folder either\n$/);

    const info = await run('info', '--model', 'org/tiny', '--revision', 'v2');
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/architecture: ModernBertForMaskedLM/);
  });
});
