import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Shader sources are imported as text, as bin/wgsl-hooks.js does in Node.
  plugins: [
    {
      name: 'wgsl-as-text',
      transform(code, id) {
        return id.endsWith('.wgsl') ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined;
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts'],
    // The golden parity and CLI tests run small models in plain TypeScript and on SwiftShader; give slow CI machines room.
    testTimeout: 120_000,
    // Hermetic kernel choices: a tuning cache on this machine (modernbert tune) must not change what tests run.
    env: { MODERNBERT_TUNING: '/nonexistent/modernbert-ts/tuning.json' },
  },
});
