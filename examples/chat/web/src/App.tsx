import { useState } from 'react';
import { login } from './api';
import { Chat } from './Chat';

export function App() {
  const [session, setSession] = useState<{ user: string; token: string } | null>(null);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (session) {
    return <Chat user={session.user} token={session.token} onLogout={(reason) => {
      setSession(null);
      setError(reason);
    }} />;
  }

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const user = name.trim();
      setSession({ user, token: await login(user) });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main>
      <h1>Chat</h1>
      <form onSubmit={submit} aria-label="log in">
        <input
          name="username"
          placeholder="your name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
        />
        <button disabled={busy}>Log in</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
    </main>
  );
}
