import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the front end with hot reload and sends the API and Socket.IO
// to the chat server (`cargo run --example chat`, port 3000).
const server = 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true },
  server: {
    proxy: {
      '/login': server,
      '/socket.io': { target: server, ws: true },
    },
  },
});
