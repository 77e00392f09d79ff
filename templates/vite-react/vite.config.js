import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Previews arrive as <port>-<sandbox>.localhost, or under SANDBOX_PUBLIC_URL's domain: webdev_start
// passes the preview URL in PREVIEW_URL, and Vite must accept that Host (its DNS-rebinding guard).
const previewHost = process.env.PREVIEW_URL ? new URL(process.env.PREVIEW_URL).hostname : undefined;

export default defineConfig({
  plugins: [react()],
  server: { allowedHosts: ['.localhost', ...(previewHost ? [previewHost] : [])] },
});
