// The size budget of each entry point, minified with esbuild and gzipped (level 9).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { transform } from "esbuild";

const BUDGET = { index: 6 * 1024, axios: 1.5 * 1024, react: 1.5 * 1024 };

for (const [entry, limit] of Object.entries(BUDGET)) {
  test(`${entry}.js fits in ${limit / 1024} KiB min+gzip`, async (t) => {
    const source = readFileSync(new URL(`../dist/${entry}.js`, import.meta.url), "utf8");
    const { code } = await transform(source, { minify: true, format: "esm", target: "es2022" });
    const size = gzipSync(code, { level: 9 }).length;
    const line = `size ${entry}: ${(size / 1024).toFixed(2)} KiB min+gzip (budget ${limit / 1024} KiB)`;
    t.diagnostic(line);
    assert.ok(size <= limit, line);
  });
}
