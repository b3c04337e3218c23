import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The golden parity and CLI tests run small models in plain TypeScript; give slow CI machines room.
    testTimeout: 60_000,
  },
});
