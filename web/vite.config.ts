/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build goes into the Python package (src/guetteur/console), served at / by the API process.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/guetteur/console",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      output: {
        // The first page loads the libraries it needs (React, Mantine, the router, TanStack Query,
        // i18next) as one "vendor" chunk; the heavy ones stay in chunks of their own, loaded by
        // the pages that use them: ECharts by Chart.tsx on demand, CodeMirror by the rules
        // editor. "vendor" is captured first (higher priority) so that a helper both use (tslib)
        // stays with the first page instead of making it load ECharts. bench/console.py reports the sizes.
        codeSplitting: {
          groups: [
            { name: "vendor", test: /node_modules/, tags: ["$initial"], priority: 30 },
            { name: "charts", test: /node_modules[\\/](echarts|zrender)[\\/]/, priority: 20 },
            { name: "editor", test: /node_modules[\\/](@codemirror|@lezer|@uiw|codemirror|style-mod|w3c-keyname|crelt|@marijn)[\\/]/, priority: 20 },
          ],
        },
      },
    },
  },
  server: {
    proxy: { "/api": { target: "http://127.0.0.1:8000", ws: true } },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
