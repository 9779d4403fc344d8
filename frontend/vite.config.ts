/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';

// Dev: `BACKEND=http://demo.localhost:8000 npm run dev` proxies /api and /ws to Django.
const backend = process.env.BACKEND || 'http://demo.localhost:8000';

export default defineConfig({
  base: '/',
  plugins: [
    react(),
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: 'script',
      filename: 'sw.js',
      manifestFilename: 'manifest.webmanifest',
      includeAssets: ['favicon.svg', 'icons/apple-touch-icon.png'],
      manifest: {
        name: 'BuildCRM',
        short_name: 'BuildCRM',
        description: 'CRM с AI-менеджером продаж',
        lang: 'ru',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        orientation: 'any',
        theme_color: '#2457d6',
        background_color: '#f4f6fb',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest}'],
        navigateFallback: '/index.html',
        navigateFallbackDenylist: [/^\/api(\/|$)/, /^\/ws(\/|$)/, /^\/admin(\/|$)/, /^\/media(\/|$)/, /^\/static(\/|$)/],
        // Never cache API or websocket traffic: no runtimeCaching at all.
        runtimeCaching: [],
        // Web Push: the push and notificationclick handlers live in public/sw-push.js (kept out of the precache
        // manifest's hashing, loaded by the generated worker).
        importScripts: ['sw-push.js'],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
  server: {
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/ws': { target: backend.replace(/^http/, 'ws'), ws: true },
    },
  },
  build: { outDir: 'dist', sourcemap: false, target: 'es2020' },
  test: { environment: 'node', include: ['src/**/*.test.ts'], watch: false },
});
