import { useCallback, useEffect, useRef, useState } from 'react';
import { isError } from './errors';
import type { ChatMessage } from './generated/chat-events';
import { NAMESPACE } from './generated/chat-events';
import { useSocket, type SocketState } from './useSocket';

/** A line of a room: a message, or someone joining or leaving. */
type Line = { kind: 'message'; message: ChatMessage } | { kind: 'notice'; key: string; text: string };

/** How long "… is typing" stays after the last typing event, in ms. */
const TYPING_SHOWN_MS = 2_000;
/** At most one typing event per this many ms. */
const TYPING_EVERY_MS = 1_000;

interface Props {
  user: string;
  token: string;
  onLogout: (reason: string | null) => void;
}

export function Chat({ user, token, onLogout }: Props) {
  const state = useSocket(NAMESPACE, token);
  const { socket, status, connections, recovered } = state;
  const [rooms, setRooms] = useState<string[]>([]);
  const [current, setCurrent] = useState<string | null>(null);
  const [lines, setLines] = useState<Record<string, Line[]>>({});
  const [typing, setTyping] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<{ id: number; text: string }[]>([]);
  const [draft, setDraft] = useState('');
  const [roomDraft, setRoomDraft] = useState('lobby');
  const roomsRef = useRef<string[]>([]);
  roomsRef.current = rooms;
  const lastTyping = useRef(0);
  const errorIds = useRef(0);

  const addError = useCallback((text: string) => {
    errorIds.current += 1;
    const id = errorIds.current;
    setErrors((e) => [...e.slice(-4), { id, text }]);
  }, []);

  const addLine = useCallback((room: string, line: Line) => {
    setLines((all) => ({ ...all, [room]: [...(all[room] ?? []), line].slice(-200) }));
  }, []);

  const join = useCallback(
    (room: string) => {
      socket?.emit('join', { room }, (res) => {
        if (isError(res)) return addError(res.message);
        setRooms((r) => (r.includes(room) ? r : [...r, room]));
        setCurrent(room);
        setLines((all) => ({ ...all, [room]: res.map((message) => ({ kind: 'message', message })) }));
      });
    },
    [socket, addError],
  );

  // Server events, typed by the generated ServerToClientEvents.
  useEffect(() => {
    if (!socket) return undefined;
    const typingTimers = new Map<string, number>();
    socket.on('new-message', (message) => addLine(message.room, { kind: 'message', message }));
    socket.on('user-joined', ({ room, user: who }) =>
      addLine(room, { kind: 'notice', key: `j${Date.now()}${who}`, text: `${who} joined` }),
    );
    socket.on('user-left', ({ room, user: who }) =>
      addLine(room, { kind: 'notice', key: `l${Date.now()}${who}`, text: `${who} left` }),
    );
    socket.on('typing', ({ room, user: who }) => {
      setTyping((t) => ({ ...t, [room]: who }));
      window.clearTimeout(typingTimers.get(room));
      typingTimers.set(
        room,
        window.setTimeout(() => setTyping(({ [room]: _, ...rest }) => rest), TYPING_SHOWN_MS),
      );
    });
    socket.on('exception', (error) => addError(error.message));
    return () => {
      socket.off('new-message');
      socket.off('user-joined');
      socket.off('user-left');
      socket.off('typing');
      socket.off('exception');
      typingTimers.forEach((t) => window.clearTimeout(t));
    };
  }, [socket, addLine, addError]);

  // A new connection that did not get its session back (a server restart, a long cut):
  // join the rooms again, which also brings their history.
  useEffect(() => {
    if (connections > 1 && !recovered) roomsRef.current.forEach(join);
  }, [connections, recovered, join]);

  // Refused (an expired token after a restart with another secret…): back to the login.
  useEffect(() => {
    if (status === 'refused') onLogout(state.error);
  }, [status, state.error, onLogout]);

  const send = (e: React.FormEvent) => {
    e.preventDefault();
    if (!socket || !current) return;
    const room = current;
    const text = draft;
    socket.emit('send-message', { room, text }, (res) => {
      if (isError(res)) return addError(res.message);
      setDraft('');
      addLine(room, { kind: 'message', message: { id: res.id, room, user, text, at: Date.now() } });
    });
  };

  const onDraft = (text: string) => {
    setDraft(text);
    const now = Date.now();
    if (socket && current && now - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = now;
      socket.emit('typing', { room: current });
    }
  };

  const leave = (room: string) => {
    socket?.emit('leave', { room }, (res) => {
      if (isError(res)) return addError(res.message);
      setRooms((r) => r.filter((x) => x !== room));
      setCurrent((c) => (c === room ? null : c));
    });
  };

  return (
    <main>
      <header>
        <h1>Chat</h1>
        <span>
          {user} · <StatusBadge state={state} />{' '}
          <button type="button" onClick={() => onLogout(null)}>Log out</button>
        </span>
      </header>

      <ul className="errors" aria-label="errors">
        {errors.map((e) => (
          <li key={e.id} className="error" role="alert">
            {e.text}{' '}
            <button type="button" aria-label="dismiss" onClick={() => setErrors((all) => all.filter((x) => x.id !== e.id))}>
              ×
            </button>
          </li>
        ))}
      </ul>

      <form
        aria-label="join a room"
        onSubmit={(e) => {
          e.preventDefault();
          join(roomDraft.trim());
        }}
      >
        <input name="room" value={roomDraft} onChange={(e) => setRoomDraft(e.target.value)} placeholder="room" />
        <button disabled={status !== 'connected'}>Join</button>
      </form>

      <nav aria-label="rooms">
        {rooms.map((room) => (
          <span key={room} className={room === current ? 'room current' : 'room'}>
            <button type="button" onClick={() => setCurrent(room)}>#{room}</button>
            <button type="button" aria-label={`leave ${room}`} onClick={() => leave(room)}>
              ×
            </button>
          </span>
        ))}
      </nav>

      {current && (
        <section aria-label={`room ${current}`}>
          <ol className="log" aria-label="messages">
            {(lines[current] ?? []).map((line) =>
              line.kind === 'message' ? (
                <li key={`m${line.message.id}`} className={line.message.user === user ? 'mine' : undefined}>
                  <b>{line.message.user}</b>: {line.message.text}
                </li>
              ) : (
                <li key={line.key} className="notice">
                  {line.text}
                </li>
              ),
            )}
          </ol>
          <p className="typing" aria-live="polite" data-testid="typing">
            {typing[current] ? `${typing[current]} is typing…` : ''}
          </p>
          <form aria-label="send a message" onSubmit={send}>
            <input
              name="text"
              autoComplete="off"
              value={draft}
              onChange={(e) => onDraft(e.target.value)}
              placeholder={`message #${current}`}
            />
            <button disabled={status !== 'connected'}>Send</button>
          </form>
        </section>
      )}
    </main>
  );
}

function StatusBadge({ state }: { state: SocketState }) {
  const text = {
    connecting: 'connecting…',
    connected: state.recovered ? 'connected (nothing missed)' : 'connected',
    reconnecting: state.attempt > 0 ? `reconnecting (attempt ${state.attempt})…` : 'reconnecting…',
    refused: `refused: ${state.error ?? ''}`,
  }[state.status];
  return (
    <span className={`status ${state.status}`} data-testid="status" data-status={state.status}>
      {text}
    </span>
  );
}
