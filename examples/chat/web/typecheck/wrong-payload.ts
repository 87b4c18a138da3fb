// Must NOT compile: each line marked `expect-error` uses an event against its declared
// types. The end-to-end tests run tsc on this file and check that it fails on exactly
// these lines.
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../src/generated/chat-events';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('/chat');
socket.emit('send-message', { room: 'lobby', body: 'hi' }, () => {}); // expect-error: no `text`
socket.emit('join', { room: 42 }, () => {}); // expect-error: `room` is a string
socket.emit('shout', 'hi'); // expect-error: undeclared event
socket.on('new-message', (m: { text: number }) => m); // expect-error: `text` is a string
socket.emit('typing', { room: 'lobby' }, () => {}); // expect-error: typing has no acknowledgement
