// A client that uses every declared event with its payload and acknowledgement types:
// `npm run typecheck` compiles it with the front end, so a change of the Rust declaration
// that breaks clients fails here.
import { io, type Socket } from 'socket.io-client';
import type { ChatMessage, ClientToServerEvents, ServerToClientEvents, Presence } from '../src/generated/chat-events';
import { NAMESPACE } from '../src/generated/chat-events';

export function useEveryEvent(token: string): Socket<ServerToClientEvents, ClientToServerEvents> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(NAMESPACE, { auth: { token } });
  socket.emit('join', { room: 'lobby' }, (history) => {
    if (Array.isArray(history)) history.forEach((m: ChatMessage) => m.text.toUpperCase());
    else history.message.toUpperCase();
  });
  socket.emit('send-message', { room: 'lobby', text: 'hi' }, (sent) => {
    if ('id' in sent && typeof sent.id === 'number') sent.id.toFixed();
  });
  socket.emit('typing', { room: 'lobby' });
  socket.emit('leave', { room: 'lobby' }, (left) => left);
  socket.on('new-message', (m: ChatMessage) => m.at.toFixed());
  socket.on('user-joined', (p: Presence) => p.user);
  socket.on('user-left', (p: Presence) => p.room);
  socket.on('typing', (p: Presence) => p.user);
  socket.on('exception', (e) => e.message);
  void socket.timeout(1000).emitWithAck('send-message', { room: 'lobby', text: 'hi' });
  return socket;
}
