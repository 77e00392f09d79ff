import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Previews arrive as <port>-<sandbox>.localhost; let Vite answer any such host.
export default defineConfig({
  plugins: [react()],
  server: { allowedHosts: ['.localhost'] },
});
