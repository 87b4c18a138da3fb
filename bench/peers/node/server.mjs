// socket.io peer for the benchmark suite: the same contract as examples/bench_server.rs.
//
// Listens on 127.0.0.1:$PORT (default 3000), path /socket.io/, namespace "/":
// - "echo" with one argument and an ack -> acknowledged with that argument;
// - "broadcast" with one argument -> "bcast" with it to every socket, sender included.
//
//   PORT=3000 node server.mjs
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 3000);
const httpServer = createServer();
// Nagle off on every accepted connection, as the Rust servers do.
httpServer.on("connection", (socket) => socket.setNoDelay(true));

const io = new Server(httpServer, {
  // The defaults otherwise (pingInterval 25 s, pingTimeout 20 s, maxHttpBufferSize 1e6,
  // no per-message deflate), polling and WebSocket both allowed like the Rust servers.
  serveClient: false,
});

io.on("connection", (socket) => {
  socket.on("echo", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
  socket.on("broadcast", (data) => {
    io.emit("bcast", data);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});

const stop = () => {
  io.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
