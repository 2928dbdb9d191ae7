import { defineConfig } from "vite";

// Built into the Python package, served by each party node at {party}/ui/ (relative asset paths).
export default defineConfig({
  base: "./",
  worker: { format: "es" },
  build: {
    outDir: "../src/parley/web/static",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
  },
});
