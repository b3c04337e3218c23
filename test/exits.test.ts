// A script that loads a model with loadModel, uses it and disposes it exits by itself, on every backend, without
// calling releaseDevices(): the last model's dispose() lets go of the GPU device (Dawn keeps Node running while a
// device exists), and 'auto' decides from the adapter without opening a device, saying once what it chose.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linuxGpuDeviceNodes } from '../optimized/webgpu/device.ts';
import { writeExampleCheckpoint } from '../tasks/example.ts';
import { tempDir } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');

/** Runs `code` as an ES module with the project's loaders; resolves when the process exits, or kills it after `limitS`. */
function runScript(code: string, limitS = 60): Promise<{ code: number | null; stdout: string; stderr: string; secondsAfterDone: number | null; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', join(ROOT, 'bin', 'register.js'), '--input-type=module', '-e', code], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    let doneAt: number | null = null;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (doneAt === null && stdout.includes('done\n')) doneAt = performance.now();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitS * 1000);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, stdout, stderr, secondsAfterDone: doneAt === null ? null : (performance.now() - doneAt) / 1000, killed });
    });
  });
}

/** The example checkpoint (config, weights, tokenizer) in a fresh folder, removed after the test. */
function folder(): string {
  const dir = tempDir();
  writeExampleCheckpoint(dir);
  return dir;
}

describe('a script that disposes its models exits by itself', () => {
  it.each(['reference', 'webgpu', 'gpujs', 'gpujs:webasm', 'auto'])('%s: exits within seconds of its last call, with no releaseDevices()', async (backend) => {
    // Two models at once, then a third after both are gone: the device is shared, let go by the last, and opened again.
    const script = `
      const { loadModel } = await import(${JSON.stringify(join(ROOT, 'tasks', 'index.ts'))});
      const dir = ${JSON.stringify(folder())};
      const [a, b] = [await loadModel(dir, { backend: ${JSON.stringify(backend)} }), await loadModel(dir, { backend: ${JSON.stringify(backend)} })];
      const first = (await a.embed(['hello world']))[0];
      a.dispose();
      const second = (await b.embed(['hello world']))[0];
      b.dispose();
      const c = await loadModel(dir, { backend: ${JSON.stringify(backend)} });
      const third = (await c.embed(['hello world']))[0];
      c.dispose();
      console.log(c.backend, first.length, first.every((x, i) => x === second[i] && x === third[i]));
      console.log('done');`;
    const r = await runScript(script);
    expect(r.killed, `still running after 60 s; stderr: ${r.stderr}`).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\S+ 64 true\n/);
    // A second is what a user notices; the margin is for a loaded 2-core machine. Hanging would be the 60 s limit.
    expect(r.secondsAfterDone).toBeLessThan(5);
  }, 90_000);

  it("'auto' says once which backend it chose and why, and opens no device to decide", async () => {
    const noGpu = (await linuxGpuDeviceNodes()).length === 0 && !process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES;
    const script = `
      const { loadModel } = await import(${JSON.stringify(join(ROOT, 'tasks', 'index.ts'))});
      for (let i = 0; i < 2; i++) (await loadModel(${JSON.stringify(folder())})).dispose();
      console.log('done');`;
    const r = await runScript(script);
    expect(r.code, r.stderr).toBe(0);
    const said = r.stderr.split('\n').filter((l) => l.startsWith('modernbert: backend auto chose'));
    expect(said).toHaveLength(1);
    if (noGpu) {
      expect(said[0]).toBe('modernbert: backend auto chose reference: WebGPU finds no GPU here, only SwiftShader (a CPU emulation)');
      // the engine's SwiftShader notice belongs to a device that runs; the reference ran
      expect(r.stderr).not.toContain('using SwiftShader');
    }
  }, 90_000);
});
