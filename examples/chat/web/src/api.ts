// The chat server's HTTP API: POST /login { username } → { token }.

export async function login(username: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username }),
    });
  } catch {
    throw new Error('cannot reach the server');
  }
  const body = (await res.json().catch(() => ({}))) as { token?: string; error?: string };
  if (!res.ok || !body.token) throw new Error(body.error ?? `login failed (HTTP ${res.status})`);
  return body.token;
}
