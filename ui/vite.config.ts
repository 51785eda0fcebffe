import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The build lands inside the Python package; the server renders index.html from the manifest.
export default defineConfig({
  base: "./",
  plugins: [react()],
  build: {
    outDir: "../src/kokanee/web",
    emptyOutDir: true,
    manifest: true,
    chunkSizeWarningLimit: 700, // kB: ECharts alone is ~640
  },
  server: {
    // `npm run dev` talks to a local `kokanee serve` (override with KOKANEE_API).
    proxy: { "/api": process.env.KOKANEE_API ?? "http://127.0.0.1:8080" },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
