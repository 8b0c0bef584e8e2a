import { defineConfig } from 'vitest/config'

// Unit tests sit beside the code; integration tests (real Kafka broker, embedded
// ClickHouse) live in test/integration. Each test file runs in its own forked
// process because one process can hold only one chDB data directory.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 300_000,
        },
      },
    ],
  },
})
