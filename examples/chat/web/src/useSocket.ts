// One Socket.IO connection for a component tree, typed with the server's declared
// events, and its state as React state: connecting, connected (fresh or recovered),
// reconnecting (with the attempt number), or refused (with the server's reason).
import { useEffect, useState } from 'react';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from './generated/chat-events';

/** A socket whose `emit` and `on` only take the declared events and payloads. */
export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export type Status = 'connecting' | 'connected' | 'reconnecting' | 'refused';

export interface SocketState {
  socket: ChatSocket | null;
  status: Status;
  /** The last connection got the session back (connection state recovery): nothing was missed. */
  recovered: boolean;
  /** Reconnection attempts since the connection was lost. */
  attempt: number;
  /** Why the server refused the connection (`status === 'refused'`). */
  error: string | null;
  /** Counts connections: a new value is a new connection (rooms to join again, unless recovered). */
  connections: number;
}

const INITIAL: SocketState = {
  socket: null,
  status: 'connecting',
  recovered: false,
  attempt: 0,
  error: null,
  connections: 0,
};

/**
 * Connects to `url` (a namespace of this origin, e.g. "/chat") with `auth: { token }`
 * while `token` is set, and disconnects when the component unmounts or the token changes.
 */
export function useSocket(url: string, token: string | null): SocketState {
  const [state, setState] = useState<SocketState>(INITIAL);

  useEffect(() => {
    if (!token) {
      setState(INITIAL);
      return undefined;
    }
    const socket: ChatSocket = io(url, { auth: { token } });
    setState({ ...INITIAL, socket });
    socket.on('connect', () =>
      setState((s) => ({
        ...s,
        status: 'connected',
        recovered: socket.recovered,
        attempt: 0,
        error: null,
        connections: s.connections + 1,
      })),
    );
    socket.on('disconnect', (reason) =>
      setState((s) => ({
        ...s,
        // The server ended the session on purpose: the client does not reconnect.
        status: reason === 'io server disconnect' ? 'refused' : 'reconnecting',
        error: reason === 'io server disconnect' ? 'the server ended the session' : null,
      })),
    );
    socket.on('connect_error', (err) =>
      setState((s) =>
        // `active`: a transport failure the client retries; otherwise the server said no.
        socket.active
          ? { ...s, status: 'reconnecting' }
          : { ...s, status: 'refused', error: err.message },
      ),
    );
    socket.io.on('reconnect_attempt', (attempt) => setState((s) => ({ ...s, attempt })));
    return () => {
      socket.io.off('reconnect_attempt');
      socket.disconnect();
    };
  }, [url, token]);

  return state;
}
